"""The proof page as evidence: decoded frames with verdicts, alerts laid out, link events,
attribution with the test-PKI warning, a print stylesheet; garbage never breaks it."""

from __future__ import annotations

from html import escape

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from rig.crypto.keystore import Usage
from rig.pki import keystore_of
from rig.report import by_model, render_model, write_reports
from rig.report.alerts import AlertLayoutError, generic_alert_fields
from rig.report.attribution import TEST_PKI_WARNING, attribution_of, render_attribution
from rig.report.frames import describe_certificate, frame_evidence

from .emu_helpers import new_device
from .vectors import FIXTURE_SAMPLES, needs_rtds, read_hex, rtds_files


def read_hex_sample(name: str) -> str:
    return (FIXTURE_SAMPLES / f"{name}.hex").read_text().strip()


def _frame(data: bytes, direction: str) -> dict:
    return {"time": "12:00:00.000", "offset": 0.0, "direction": direction, "hex": data.hex().upper(),
            "summary": f"{direction} frame"}


def _record(frames: list[dict], **extra) -> dict:
    return {"type": "test", "scenario": "migrate", "title": "migrate", "outcome": "passed", "required": True,
            "kind": "device", "manufacturer": "ACME", "model": "M1", "firmware": "1", "rig": "r1",
            "device": "ESME", "frames": frames, **extra}


@pytest.fixture(scope="module")
def exchange(fixture_pki):
    """A real exchange with an emulated ESME: a CS02b migration and its response, then a command
    with a broken MAC and the generic critical alert (0x8F3E) the device raises for it."""
    device, head, _ = new_device(fixture_pki, "ESME")
    command = head.seal(head.migration(), "tcos")
    (response,) = device.receive(command)
    broken = bytearray(head.seal(head.migration(), "tcos"))
    broken[-3] ^= 0x01
    (alert,) = device.receive(bytes(broken))
    return {"command": command, "response": response, "broken": bytes(broken), "alert": alert,
            "ecos": head.cert("ecos").public_bytes(Encoding.DER)}


@pytest.fixture(scope="module")
def keystore(fixture_pki):
    return keystore_of(fixture_pki)


def _page(records, **kwargs) -> str:
    return render_model(by_model(records)[0], **kwargs)


def test_each_frame_opens_to_the_decoded_tree_with_verdicts(exchange, keystore, samples):
    frames = [_frame(exchange["command"], "tx"), _frame(exchange["response"], "rx"),
              _frame(exchange["broken"], "tx"), _frame(exchange["alert"], "rx"),
              _frame(samples["CS02bSupplierByTransCoS_8F66_FUTURE_DATED_SUCCESS_ALERT"], "rx"),
              _frame(samples["CS02bSupplierByTransCoS_8F67_FUTURE_DATED_ERROR_ALERT"], "rx")]
    page = _page([_record(frames)], keystore=keystore)
    assert page.count("<details>") == len(frames) and page.count("decoded tree,") == len(frames)
    # the tree decode prints: field names, offsets, values, meanings, certificate subjects
    assert "originator_counter" in page and "<td>3</td>" in page and "10001" in page
    assert escape(describe_certificate(exchange["ecos"])) in page  # the ECoS certificate's subject
    assert "TRANS_COS_BY_TRANS_COS" in page or "transCoSByTransCoS" in page
    # per-frame signature and MAC verdicts
    assert page.count("signature: VALID") == 6  # the broken command keeps a good signature, its MAC is bad
    assert page.count("MAC: VALID") == 1 and page.count("MAC: ABSENT") == 4  # only commands are MACed here
    assert "MAC: INVALID" in page  # the broken command
    # the generic alert laid out, not only hex
    assert "alert: Generic Critical Alert 0x8F3E Unauthorised Communication Access Attempted" in page
    assert "alert counter 2001" in page and "long-invoke-id-and-priority" in page
    # CS02b future-dated alerts with their outcome
    assert "0x8F66 Future-date HAN Interface Command Successfully Actioned" in page
    assert "SUPPLIER DIGITAL_SIGNATURE: SUCCESS" in page
    assert "0x8F67" in page and "SUPPLIER DIGITAL_SIGNATURE: NO_TRUST_ANCHOR" in page


def test_a_tampered_device_frame_shows_an_invalid_signature(exchange, keystore):
    tampered = bytearray(exchange["response"])
    tampered[-10] ^= 0x40
    page = _page([_record([_frame(bytes(tampered), "rx")])], keystore=keystore)
    assert "signature: INVALID" in page and "signature: VALID" not in page


def test_without_a_key_store_the_verdicts_say_not_checked(exchange):
    page = _page([_record([_frame(exchange["command"], "tx"), _frame(exchange["alert"], "rx")])])
    assert page.count("signature: not checked") == 2 and page.count("MAC: not checked") == 2
    assert "signature: VALID" not in page and "MAC: VALID" not in page and "given no key store" in page
    assert "alert: Generic Critical Alert 0x8F3E" in page  # the decode does not need keys


@pytest.mark.parametrize("bad", ["DF0902", "zz", "", "00" * 40, "DF09" + "FF" * 200, None, 17])
def test_a_garbage_frame_does_not_break_the_report(exchange, keystore, bad):
    frames = [{"direction": "rx", "hex": bad, "summary": "garbage"}, _frame(exchange["response"], "rx")]
    page = _page([_record(frames)], keystore=keystore)
    assert page.endswith("</html>")
    assert "undecodable," in page and ("decode error:" in page or "not hex:" in page)
    assert "signature: VALID" in page  # the good frame after it is still decoded and checked


def test_the_decoder_error_names_field_and_offset():
    evidence = frame_evidence("DF0902")
    assert evidence.error.startswith("decode error:") and "originator_counter" in evidence.error
    assert "byte 3" in evidence.error and not evidence.rows


def test_an_alert_payload_that_matches_no_layout_says_so(exchange, keystore, fixture_pki):
    from rig.crypto import seal
    from rig.gbcs import CraFlag, Message

    esme = fixture_pki.entity("esme")
    alert = Message(CraFlag.ALERT, 3000, esme, fixture_pki.entity("tcos"), 0x1000, b"\x0f\x20\x00")
    frame = seal(alert, signer=fixture_pki.credential("esme", Usage.DS).private_key)
    evidence = frame_evidence(frame.hex(), keystore)
    assert evidence.rows and "alert payload not laid out" in evidence.error and "offset 1" in evidence.error
    assert evidence.checks["signature"][0] == "VALID"


def test_generic_alert_layouts():
    dlms = bytes.fromhex("0F200007D0000202128F30090C07EA0301FF0C00000080 00FF".replace(" ", ""))
    fields = {f.name: f for f in generic_alert_fields(dlms)}
    assert fields["alert code"].value == "0x8F30" and fields["alert code"].offset == 9
    assert fields["time stamp"].value == "2026-03-01T12:00:00Z"
    assert fields["long-invoke-id-and-priority"].meaning == "alert counter 2000"
    gbz = bytes.fromhex("0109008F301C374A80")
    fields = {f.name: f for f in generic_alert_fields(gbz)}
    assert fields["alert code"].value == "0x8F30" and fields["time stamp"].value == "2015-01-01T00:00:00Z"
    for bad in (b"", b"\x0f\x20", dlms[:-1], b"\x01\x09\x00\x8f", b"\x30\x00", dlms[:8] + b"\x13" + dlms[9:]):
        with pytest.raises(AlertLayoutError):
            generic_alert_fields(bad)


@needs_rtds
def test_rtds_generic_alerts_are_laid_out(rtds_keystore):
    files = rtds_files("NA_GCA-*/*8F30*")
    assert files
    for path in files:
        evidence = frame_evidence(read_hex(path).hex(), rtds_keystore)
        assert not evidence.error, evidence.error
        assert "0x8F30 Source Does not have Authority for Command" in evidence.alert
        assert evidence.checks["signature"][0] == "VALID"


def test_print_stylesheet_and_self_contained(exchange):
    page = _page([_record([_frame(exchange["command"], "tx")])])
    media = page[page.index("@media print"):]
    assert "details" in media and "background:none" in media and "@page" in media
    assert "beforeprint" in page and "d.open=true" in page  # closed frames are opened before printing
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_link_events_are_shown_when_the_record_carries_them(exchange):
    events = {"frames": 12, "crc_errors": 2, "reconnects": 1, "injected_faults": 0, "framing_errors": 3}
    page = _page([_record([_frame(exchange["command"], "tx")], link_events=events)])
    assert "<h4>Link events</h4>" in page
    for label, value in (("CRC failures", 2), ("reconnects", 1), ("framing errors", 3)):
        assert f"<td>{label}</td><td class='nonzero'>{value}</td>" in page
    assert "<td>injected faults</td><td class=''>0</td>" in page and "<td>frames</td><td class=''>12</td>" in page
    assert "Link events" not in _page([_record([])])


# -- attribution --------------------------------------------------------------------------------

def _session(test_pki: bool) -> dict:
    return {"type": "session", "attribution": {
        "gbcs_rig_version": "0.1.0", "source_revision": "abc1234", "catalogue_version": "cat-9f8e",
        "started": "2026-12-01T20:00:00Z", "config": "hw_configs/lab.toml",
        "rigs": {"r1": {"device_type": "ESME", "manufacturer": "ACME", "model": "M1", "firmware": "1",
                        "eui64": "7E570D00000000A0", "rig_kind": "HARDWARE",
                        "transport_configured": {"kind": "serial", "port": "auto"}, "transport_resolved": None,
                        "pki": {"source": "/srv/lab/pki", "layout": "keystore", "root_sha256": "aa" * 32,
                                "issuing_ca_sha256": "bb" * 32, "test_pki": test_pki}},
                 "r2": {"device_type": "GSME", "eui64": "7E570D00000000A1", "rig_kind": "EMULATED in-process",
                        "pki": {"test_pki": False}}}}}


def test_attribution_header_and_test_pki_banner(exchange):
    journal = [_session(True), {"type": "rig", "rig": "r1", "transport_resolved": {"device": "/dev/ttyUSB3",
                                                                                   "ID_SERIAL": "FTDI_X"}},
               {"type": "end", "exit_status": 0, "complete": True, "ended": "2026-12-01T20:05:00Z"}]
    attribution = attribution_of(journal)
    page = _page([_record([_frame(exchange["command"], "tx")])], attribution=attribution)
    assert page.count(TEST_PKI_WARNING.upper()) == 1 and "class='test-pki'" in page
    assert page.index("class='test-pki'") < page.index("class='verdict")  # above the verdict it qualifies
    for text in ("7E570D00000000A0", "HARDWARE", "aa" * 32, "bb" * 32, "abc1234", "cat-9f8e", "0.1.0",
                 "device=/dev/ttyUSB3, ID_SERIAL=FTDI_X", "kind=serial, port=auto", "complete (exit status 0)"):
        assert escape(text) in page, text
    assert "7E570D00000000A1" not in page  # the model's page shows its own rigs only
    lab = render_attribution(_session(False)["attribution"])
    assert TEST_PKI_WARNING.upper() not in lab and "lab PKI" in lab and "7E570D00000000A1" in lab


def test_an_interrupted_or_unended_run_says_so():
    session = _session(False)
    interrupted = attribution_of([session, {"type": "end", "exit_status": 130, "complete": False, "ended": "t"}])
    assert "INTERRUPTED" in render_attribution(interrupted.session, end=interrupted.end)
    unended = attribution_of([session])
    assert "no end record" in render_attribution(unended.session, end=unended.end)
    assert attribution_of([{"type": "session", "config": "x"}]) is None


def test_write_reports_carries_keys_attribution_and_seal(tmp_path, exchange, keystore):
    records = [_record([_frame(exchange["command"], "tx")])]
    paths = write_reports(records, tmp_path, keystore=keystore, attribution=attribution_of([_session(True)]),
                          integrity="signed: ECDSA P-256 SHA-256, key SHA-256 12ab")
    index, page = (p.read_text() for p in paths)
    assert index.count(TEST_PKI_WARNING.upper()) == 1 and "7E570D00000000A1" in index  # every rig on the index
    assert "signature: VALID" in page and "key SHA-256 12ab" in page and "gbcs-rig report verify" in page
    assert "carries no attribution" in render_model(by_model(records)[0])


def test_a_pki_serves_as_the_key_store(exchange, fixture_pki):
    page = _page([_record([_frame(exchange["command"], "tx")])], keystore=fixture_pki)
    assert "signature: VALID" in page and "MAC: VALID" in page


def test_an_internal_error_explaining_a_frame_is_shown_not_raised(exchange, monkeypatch):
    from rig.report import frames

    def broken(*_args):
        raise AttributeError("planted")

    monkeypatch.setattr(frames, "_cs02b_alert", broken)
    alert = frame_evidence(read_hex_sample("CS02bSupplierByTransCoS_8F66_FUTURE_DATED_SUCCESS_ALERT"))
    assert "internal error explaining this frame (AttributeError: planted)" in alert.error
    assert alert.rows  # what was decoded before the fault is still shown
