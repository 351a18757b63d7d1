"""CoS-party anomaly detection: ADT files (replay, duplicates, defaults) and the daily 6.23 count."""

from __future__ import annotations

import pytest

from rig.dcc import (
    AdtRegistry,
    AdtRejected,
    AdtRejectReason,
    Dcc,
    DccConfig,
    EcosAlert,
    Inventory,
    ServiceStatus,
    eui_text,
    parse_adt,
)
from rig.dcc.adt import SRV_623
from rig.dcc.examples import example_adt, example_request
from rig.dcc.tables import CRITICAL_SRVS

from .conftest import TEST_CONFIG, esme_record

USER = "70-B3-D5-1F-30-00-A0-04"
SIGNATURE = "Signature,CN%3DIKI File Signing CA%2COU%3DissuingAuthority%2CO%3DDCC,8686713829,c2lnbmF0dXJl"


def adt(sequence: int, *rows: str, user: str = USER, signature: str = SIGNATURE) -> str:
    return "\n".join([user, f"SequenceNumber,{sequence}", *rows, signature]) + "\n"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(inventory):
    return AdtRegistry(inventory.db)


def test_parse_reads_every_field():
    parsed = parse_adt(adt(7, "6.23,3,5,1440", "2.2,1,2,60"))
    assert eui_text(parsed.user_id) == USER and parsed.sequence_number == 7
    assert [(t.srv, t.warning, t.quarantine, t.minutes) for t in parsed.thresholds] == [
        ("6.23", 3, 5, 1440), ("2.2", 1, 2, 60)]
    assert parsed.signature == SIGNATURE


@pytest.mark.parametrize("text,reason", [
    (adt(1, "6.23,1,1,1440", "6.23,2,2,1440"), AdtRejectReason.DUPLICATE_ENTRY),
    (adt(1, "6.23,1,1,1440", signature=""), AdtRejectReason.MISSING_SIGNATURE),
    (adt(1, "6.23,1,1,1440", signature="Signature,issuer,,"), AdtRejectReason.MISSING_SIGNATURE),
    (adt(1, "6.23,1,1"), AdtRejectReason.MALFORMED),
    (adt(1, "6.23,-1,1,1440"), AdtRejectReason.MALFORMED),
    (adt(1, "6.23,1,1,0"), AdtRejectReason.MALFORMED),
    (adt(1, "six,1,1,1440"), AdtRejectReason.MALFORMED),
    (adt(1, "6.23,1,1,1440", user="not-a-user"), AdtRejectReason.MALFORMED),
    ("\n".join([USER, "Sequence,1", "6.23,1,1,1440", SIGNATURE]), AdtRejectReason.MALFORMED),
])
def test_defective_files_are_rejected_with_a_reason(text, reason):
    with pytest.raises(AdtRejected) as caught:
        parse_adt(text)
    assert caught.value.reason is reason


def test_same_srv_over_two_periods_is_not_a_duplicate():
    assert len(parse_adt(adt(1, "6.23,1,1,1440", "6.23,1,1,60")).thresholds) == 2


def test_defaults_for_critical_srvs_and_for_623(registry):
    accepted = registry.submit(adt(1, "6.23,4,5,60", "1.1.1,9,9,720"))
    by_key = {(t.srv, t.minutes): t for t in accepted.thresholds}
    assert by_key[("6.23", 60)].defaulted is False
    default_623 = by_key[("6.23", 1440)]  # no 1440-minute 6.23 row: one at zero is created
    assert (default_623.warning, default_623.quarantine, default_623.defaulted) == (0, 0, True)
    assert ("1.1.1", 1440) not in by_key  # 1.1.1 has a row (720 min): no default for it
    for srv in set(CRITICAL_SRVS) - {"1.1.1"}:
        assert by_key[(srv, 1440)].quarantine == 0 and by_key[(srv, 1440)].defaulted
    assert ("2.2", 1440) not in by_key  # non-critical SRVs get nothing
    assert set(registry.thresholds(USER)) == set(accepted.thresholds)


def test_a_user_that_never_submitted_gets_zeros(registry):
    thresholds = registry.thresholds("70-B3-D5-1F-30-00-A0-05")
    assert {t.srv for t in thresholds} == {*CRITICAL_SRVS, SRV_623}
    assert all((t.warning, t.quarantine, t.minutes) == (0, 0, 1440) for t in thresholds)


def test_replayed_sequence_number_rejects_the_whole_file(registry):
    registry.submit(adt(5, "6.23,10,10,1440"))
    for sequence in (5, 4):
        with pytest.raises(AdtRejected) as caught:
            registry.submit(adt(sequence, "6.23,99,99,1440"))
        assert caught.value.reason is AdtRejectReason.REPLAYED_SEQUENCE
    assert registry.threshold(USER).quarantine == 10  # unchanged
    assert registry.last_sequence_number(USER) == 5


def test_a_rejected_file_changes_nothing(registry):
    registry.submit(adt(5, "6.23,10,10,1440"))
    with pytest.raises(AdtRejected):
        registry.submit(adt(6, "6.23,20,20,1440", "6.23,30,30,1440"))  # duplicate
    assert registry.last_sequence_number(USER) == 5 and registry.threshold(USER).quarantine == 10
    registry.submit(adt(6, "6.23,20,20,1440"))  # sequence 6 was never consumed
    assert registry.threshold(USER).quarantine == 20


def test_sequence_numbers_are_per_user(registry):
    registry.submit(adt(5, "6.23,10,10,1440"))
    registry.submit(adt(1, "6.23,10,10,1440", user="70-B3-D5-1F-30-00-A0-05"))
    assert registry.last_sequence_number("70-B3-D5-1F-30-00-A0-05") == 1


def test_a_user_without_a_file_is_stopped_with_n63_and_nothing_sent(fixture_pki, inventory, meter, transport):
    inventory.add_device(esme_record(fixture_pki))
    dcc = Dcc.from_pki(fixture_pki, inventory, config=TEST_CONFIG)  # supplier B never submitted an ADT file
    request = example_request(fixture_pki)
    outcome = dcc.submit_623(request, transport)
    assert outcome.status is ServiceStatus.STOPPED and not outcome.sent
    assert meter.received == [] and inventory.counter_state(dcc.parties.tcos, request.device_id) == (0, 0)
    assert outcome.anomaly.count == 1 and outcome.anomaly.threshold.defaulted
    [alert] = outcome.alerts
    assert alert.code == "N63" and alert.recipient == eui_text(request.user_id)
    body = alert.body
    assert isinstance(body, EcosAlert)
    assert body.request_id == str(request.request_id) and body.device_id == request.device_id
    assert body.alert_id.startswith(eui_text(dcc.parties.dcc_id) + ":" + eui_text(request.device_id) + ":")
    assert "ADT 0" in body.additional_information
    assert dcc.alerts.history("N63") == [alert]


def test_breach_after_the_daily_allowance_then_the_window_moves(fixture_pki, db_path, meter, transport):
    clock = Clock()
    inventory = Inventory.open(db_path, clock=clock)
    inventory.add_device(esme_record(fixture_pki))
    dcc = Dcc.from_pki(fixture_pki, inventory, config=TEST_CONFIG)
    dcc.submit_adt(example_adt(fixture_pki, daily_623=2))
    statuses = [dcc.submit_623(example_request(fixture_pki, counter=n), transport).status for n in range(1, 5)]
    assert statuses == [ServiceStatus.COMPLETED, ServiceStatus.COMPLETED, ServiceStatus.STOPPED,
                        ServiceStatus.STOPPED]
    assert len(meter.accepted) == 2  # stopped requests were never sent
    assert [a.code for a in dcc.alerts.history()].count("N63") == 2
    clock.now += 1441 * 60  # a day later the first two have left the window
    assert dcc.submit_623(example_request(fixture_pki, counter=5), transport).status is ServiceStatus.COMPLETED
    inventory.close()


def test_ge_comparison_is_a_lab_option(fixture_pki, inventory, transport):
    inventory.add_device(esme_record(fixture_pki))
    config = TEST_CONFIG.with_overrides({"anomaly_detection": {"comparison": "ge"}})
    dcc = Dcc.from_pki(fixture_pki, inventory, config=config)
    dcc.submit_adt(example_adt(fixture_pki, daily_623=2))
    statuses = [dcc.submit_623(example_request(fixture_pki, counter=n), transport).status for n in (1, 2)]
    assert statuses == [ServiceStatus.COMPLETED, ServiceStatus.STOPPED]


def test_anomaly_alert_rule_can_be_switched_to_n26(fixture_pki, inventory, transport):
    inventory.add_device(esme_record(fixture_pki))
    config = DccConfig(response_timeout_s=0.2).with_overrides({"alerts": {"anomaly_detection_breach": {
        "code": "N26", "payload": "ChangeOfSupplier", "detail_code": "ADT"}}})
    dcc = Dcc.from_pki(fixture_pki, inventory, config=config)
    request = example_request(fixture_pki)
    [alert] = dcc.submit_623(request, transport).alerts
    assert alert.code == "N26" and alert.body.service_request_id == str(request.request_id)
    assert alert.body.ecos_error_code == "ADT"
