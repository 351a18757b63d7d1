"""DCC alerts: the sink's wait_for contract, N65 on the device log, N64 records, rule overrides."""

from __future__ import annotations

import json
import threading
import time

import pytest

from rig.crypto import Usage
from rig.dcc import (
    AlertSink,
    AlertTimeout,
    ChangeOfSupplier,
    CommsHubFirmwareActivation,
    CosCertificateAlert,
    CredentialStatus,
    Dcc,
    DccAlert,
    DccConfig,
    RowStatus,
    eui_text,
)
from rig.transport.base import TransportTimeout, deadline_in

from .conftest import esme_record


def _alert(code: str, device: bytes = b"\x01" * 8) -> DccAlert:
    return DccAlert(code, CosCertificateAlert(device), "test", None, RowStatus.READING)


def test_wait_for_times_out_at_the_deadline_with_a_typed_error():
    sink = AlertSink()
    sink.publish(_alert("N26"))
    deadline = deadline_in(0.05)
    with pytest.raises(AlertTimeout) as caught:
        sink.wait_for("N65", deadline)
    assert isinstance(caught.value, TransportTimeout)
    assert time.monotonic() >= deadline
    assert [a.code for a in sink.pending()] == ["N26"]  # the other alert is still there


def test_wait_for_takes_matching_alerts_in_order_and_keeps_the_rest():
    sink = AlertSink()
    first, other, second = _alert("N65", b"\x01" * 8), _alert("N26"), _alert("N65", b"\x02" * 8)
    for alert in (first, other, second):
        sink.publish(alert)
    assert sink.wait_for("N65", deadline_in(1)) is first
    assert sink.wait_for("N65", deadline_in(1), lambda a: a.device_id == b"\x02" * 8) is second
    assert sink.wait_for(None, deadline_in(1)) is other
    assert sink.history() == [first, other, second]  # nothing is lost from the record


def test_an_alert_published_while_waiting_is_returned():
    sink = AlertSink()
    alert = _alert("N63")
    timer = threading.Timer(0.05, sink.publish, args=(alert,))
    timer.start()
    try:
        assert sink.wait_for("N63", deadline_in(5.0)) is alert
    finally:
        timer.join()


def test_many_threads_publish_and_none_is_lost():
    sink = AlertSink()
    threads = [threading.Thread(target=lambda: [sink.publish(_alert("N26")) for _ in range(50)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    got = [sink.wait_for("N26", deadline_in(5.0)) for _ in range(200)]
    for thread in threads:
        thread.join()
    assert len({id(a) for a in got}) == 200 and sink.pending() == []


def test_alerts_are_appended_to_a_json_lines_record(tmp_path):
    record = tmp_path / "alerts.jsonl"
    sink = AlertSink(record)
    sink.publish(DccAlert("N26", ChangeOfSupplier("a:b:1", "NRS"), "cos_not_completed", "7E-57-00-00-00-03-00-00",
                          RowStatus.READING, request_id="a:b:1"))
    [line] = record.read_text().splitlines()
    data = json.loads(line)
    assert data["code"] == "N26" and data["body"] == {"type": "ChangeOfSupplier", "service_request_id": "a:b:1",
                                                      "ecos_error_code": "NRS"}


def test_payload_field_limits():
    with pytest.raises(ValueError):
        ChangeOfSupplier("a:b:1", "TOOLONG")
    with pytest.raises(ValueError):
        CommsHubFirmwareActivation(b"\x00" * 8, "123456789")


# -- N65 ----------------------------------------------------------------------------------


def test_tcos_device_added_after_switch_over_raises_n65(fixture_pki, dcc):
    hub, esme = fixture_pki.entity("chf"), fixture_pki.entity("esme")
    alert = dcc.on_device_added_to_device_log(hub, esme)
    assert alert is not None and alert.code == "N65"
    assert alert.recipient == eui_text(fixture_pki.entity("supplier_a"))  # the responsible supplier
    tcos_serial = fixture_pki.credential("tcos", Usage.DS).certificate.serial_number
    assert alert.body == CosCertificateAlert(esme, tcos_serial)
    assert dcc.alerts.wait_for("N65", deadline_in(1.0)) is alert
    assert dcc.inventory.device_log(hub) == [esme]


def test_ecos_device_added_after_switch_over_raises_nothing(fixture_pki, dcc):
    dcc.inventory.set_credential_status(fixture_pki.entity("esme"), CredentialStatus.ECOS)
    assert dcc.on_device_added_to_device_log(fixture_pki.entity("chf"), fixture_pki.entity("esme")) is None
    assert dcc.alerts.history("N65") == []


def test_the_observed_cell_overrides_the_inventory(fixture_pki, dcc):
    """Inventory says TCOS but the device was seen holding the ECoS certificate: no alert; and the reverse."""
    hub, esme = fixture_pki.entity("chf"), fixture_pki.entity("esme")
    assert dcc.on_device_added_to_device_log(hub, esme, cos_cell_subject_id=dcc.parties.ecos) is None
    dcc.inventory.set_credential_status(esme, CredentialStatus.ECOS)
    alert = dcc.on_device_added_to_device_log(hub, esme, cos_cell_subject_id=dcc.parties.tcos, certificate_serial=77)
    assert alert.body.certificate_serial_number == 77


def test_before_switch_over_an_ecos_device_is_the_odd_one(fixture_pki, inventory):
    inventory.add_device(esme_record(fixture_pki))
    dcc = Dcc.from_pki(fixture_pki, inventory, config=DccConfig().with_overrides({"cos": {"current_party": "tcos"}}))
    hub, esme = fixture_pki.entity("chf"), fixture_pki.entity("esme")
    assert dcc.on_device_added_to_device_log(hub, esme) is None
    inventory.set_credential_status(esme, CredentialStatus.ECOS)
    assert dcc.on_device_added_to_device_log(hub, esme).code == "N65"


def test_unknown_status_and_no_observation_raises_nothing(fixture_pki, dcc):
    dcc.inventory.set_credential_status(fixture_pki.entity("esme"), CredentialStatus.UNKNOWN)
    assert dcc.on_device_added_to_device_log(fixture_pki.entity("chf"), fixture_pki.entity("esme")) is None


def test_a_disabled_rule_raises_nothing(fixture_pki, inventory):
    inventory.add_device(esme_record(fixture_pki))
    config = DccConfig().with_overrides({"alerts": {"cos_certificate_mismatch": {"enabled": False}}})
    dcc = Dcc.from_pki(fixture_pki, inventory, config=config)
    assert dcc.on_device_added_to_device_log(fixture_pki.entity("chf"), fixture_pki.entity("esme")) is None


# -- N64 ----------------------------------------------------------------------------------


def test_n64_is_recorded_for_the_suppliers_on_the_hub(fixture_pki, dcc):
    hub = fixture_pki.entity("chf")
    assert [a.recipient for a in dcc.record_comms_hub_firmware_activation(hub, "1.2.3")] == [None]
    dcc.on_device_added_to_device_log(hub, fixture_pki.entity("esme"))
    [alert] = dcc.record_comms_hub_firmware_activation(hub, "1.2.4")
    assert alert.code == "N64" and alert.recipient == eui_text(fixture_pki.entity("supplier_a"))
    assert alert.body == CommsHubFirmwareActivation(hub, "1.2.4")
