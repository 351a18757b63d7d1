"""Every DSP check fails once, alone, with its response code; a failure means nothing is built or sent."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto import Usage
from rig.dcc import CHECKS, DccConfig, RowStatus, ServiceStatus, XmlSigner, probes, run_checks
from rig.dcc.examples import example_request

from .conftest import esme_record

DER = Encoding.DER


CASES, EXPECTED_CODES = probes.CASES, probes.EXPECTED_CODES


def test_every_check_in_the_table_has_a_case():
    assert set(CASES) == {spec.key for spec in CHECKS} == set(EXPECTED_CODES)


def test_the_example_request_passes_every_check(fixture_pki):
    report = run_checks(example_request(fixture_pki), esme_record(fixture_pki))
    assert report.ok and report.passed == tuple(spec.key for spec in CHECKS)


@pytest.mark.parametrize("check", list(CASES))
def test_check_failure_rejects_without_sending(check, fixture_pki, dcc, meter, transport):
    break_request, break_device = CASES[check]
    request = example_request(fixture_pki)
    if break_request:
        request = break_request(fixture_pki, request)
    if break_device:
        dcc.inventory.add_device(esme_record(fixture_pki, **break_device), replace=True)
    outcome = dcc.submit_623(request, transport)
    assert outcome.status is ServiceStatus.REJECTED
    assert [failure.check for failure in outcome.check_failures] == [check]
    assert outcome.response_code == EXPECTED_CODES[check]
    expected_status = RowStatus.CONFIRMED if check == "xml_sign_role" else RowStatus.READING
    assert outcome.check_failures[0].status is expected_status
    assert not outcome.sent and meter.received == []
    for party in (dcc.parties.tcos, dcc.parties.ecos):
        assert dcc.inventory.counter_state(party, fixture_pki.entity("esme")) == (0, 0)


def test_unknown_signer_fails_e65(fixture_pki, dcc, transport, meter):
    """A file whose KeyInfo could not be resolved to a certificate."""
    request = replace(example_request(fixture_pki), signer=XmlSigner(None, "CN=T1,OU=07", 42))
    outcome = dcc.submit_623(request, transport)
    assert outcome.response_code == "E65" and meter.received == []


def test_device_type_without_supplier_cells_fails_iv(fixture_pki, dcc, transport):
    dcc.inventory.add_device(esme_record(fixture_pki, device_type="CHF"), replace=True)
    outcome = dcc.submit_623(example_request(fixture_pki), transport)
    assert [f.check for f in outcome.check_failures] == ["certificate_count"]


def test_unknown_device_fails_the_registration_checks(fixture_pki, dcc, transport):
    request = example_request(fixture_pki, device="gsme")
    outcome = dcc.submit_623(request, transport)
    assert outcome.status is ServiceStatus.REJECTED
    assert [f.check for f in outcome.check_failures] == ["mpid", "mpxn", "certificate_count"]
    assert outcome.response_code == "E67"  # the first failure in table order


def test_all_failures_are_reported_and_the_first_gives_the_code(fixture_pki):
    request = replace(example_request(fixture_pki), import_mpxn="1", prepayment_floor=None)
    report = run_checks(request, esme_record(fixture_pki))
    assert report.failed == ("mpxn", "prepayment_floor")
    assert report.response_code == "E062305"


def test_a_lab_overrides_a_response_code(fixture_pki):
    config = DccConfig().with_overrides({"response_codes": {"mpid": {"code": "E062302"}}})
    report = run_checks(example_request(fixture_pki), esme_record(fixture_pki, supplier_mpid="SUPA"), config)
    assert report.response_code == "E062302"
    assert report.failures[0].status is RowStatus.OVERRIDE


def test_gsme_takes_all_three_and_ka_only_table_override(fixture_pki):
    gsme = esme_record(fixture_pki, device_id=fixture_pki.entity("gsme"), device_type="GSME")
    request = example_request(fixture_pki, device="gsme")
    assert run_checks(request, gsme).ok
    two = DccConfig().with_overrides({"replacement_elements": {"GSME": ["DS", "KA"]}})
    assert run_checks(request, gsme, two).failed == ("certificate_count",)
    trimmed = replace(request, ka_top_up_certificate=None)
    assert run_checks(trimmed, gsme, two).ok


def test_key_usage_is_checked_per_cell(fixture_pki):
    """A KA certificate offered as the DS certificate fails (vi), not (v)."""
    request = replace(example_request(fixture_pki),
                      ds_certificate=probes._der(fixture_pki.credential("supplier_b", Usage.KA).certificate))
    assert run_checks(request, esme_record(fixture_pki)).failed == ("key_usage",)
