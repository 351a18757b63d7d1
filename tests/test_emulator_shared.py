"""Values the emulator shares across commands (issue 14): parsed certificates, decoded
replacement sets and replacement outcomes are shared because a fleet sends the same ones again
and again. Sharing must never change an answer: each command is still judged on the device's
own state and the command's own bytes."""

from __future__ import annotations

from firmware_emu import certificates, cs02b
from firmware_emu.certificates import CertificateCache
from rig.crypto import Usage
from rig.gbcs import KeyUsage, RemotePartyRole, StatusCode, TrustAnchorCellId, decode

from .emu_helpers import der, new_device


def _ids(pki, label: str, usage: Usage) -> tuple[bytes, bytes]:
    parsed = certificates.parse_certificate(der(pki.credential(label, usage).certificate))
    return parsed.subject_id, parsed.key_id


def test_repeated_commands_answer_from_the_device_state_not_from_shared_values(fixture_pki):
    """The same replacement set twice (the second finds supplier B already there), then the
    same set with a wrong certificate in one cell, then the first set again: every response
    reports what this command did to this device's cells."""
    device, head, _ = new_device(fixture_pki)
    response, _ = head.send(head.seal(head.migration(), "tcos"))
    assert response.payload.execution_outcome.all_succeeded
    old_ds = device.cell_certificate(TrustAnchorCellId(RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE))
    b_ds, b_ka = _ids(fixture_pki, "supplier_b", Usage.DS), _ids(fixture_pki, "supplier_b", Usage.KA)

    def change(**kwargs):
        frame = head.seal(head.change_of_supplier(**kwargs), "ecos")
        [raw] = device.receive(frame)
        message = decode(raw)
        assert head.device_signed(message, raw)
        return message.payload.execution_outcome.outcomes

    first = change()
    assert [o.status for o in first] == [StatusCode.SUCCESS] * 3
    assert (first[0].existing_subject_id, first[0].existing_key_id) == (old_ds.subject_id, old_ds.key_id)
    assert (first[0].replacing_subject_id, first[0].replacing_key_id) == b_ds
    again = change()
    assert [o.status for o in again] == [StatusCode.SUCCESS] * 3
    assert (again[0].existing_subject_id, again[0].existing_key_id) == b_ds  # B is what the cell holds now
    wrong = change(replacements=head.supplier_replacements(ds=head.cert("supplier_b", Usage.KA)))
    assert wrong[0].status != StatusCode.SUCCESS and [o.status for o in wrong[1:]] == [StatusCode.SUCCESS] * 2
    assert (wrong[0].replacing_subject_id, wrong[0].replacing_key_id) == b_ds  # unchanged: the cell kept B's DS
    assert wrong[1].replacing_key_id == b_ka[1]
    last = change()
    assert [o.status for o in last] == [StatusCode.SUCCESS] * 3


def test_shared_outcomes_differ_in_every_field_they_are_made_of():
    cell = TrustAnchorCellId(RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE)
    ids = (b"\x01" * 8, b"\x02" * 8, b"\x03" * 8, b"\x04" * 8)
    first = cs02b._outcome(cell, StatusCode.SUCCESS, *ids)
    assert cs02b._outcome(cell, StatusCode.SUCCESS, *ids) is first
    others = [cs02b._outcome(TrustAnchorCellId(RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT), StatusCode.SUCCESS,
                             *ids)]
    others += [cs02b._outcome(cell, status, *ids) for status in StatusCode if status != StatusCode.SUCCESS]
    for index in range(4):
        changed = list(ids)
        changed[index] = b"\xff" * 8
        others.append(cs02b._outcome(cell, StatusCode.SUCCESS, *changed))
    assert all(other is not first and other != first for other in others)
    assert others[1].status != StatusCode.SUCCESS and others[-1].replacing_key_id == b"\xff" * 8


def test_the_certificate_cache_is_bounded_and_a_certificate_evicted_comes_back_equal(fixture_pki):
    cache = CertificateCache(capacity=2)
    ders = [der(fixture_pki.credential("supplier_b", usage).certificate) for usage in (Usage.DS, Usage.KA, Usage.PP_KA)]
    parsed = [cache.parse(d) for d in ders]
    assert len(cache._entries) == 2 and ders[0] not in cache._entries  # the oldest went first
    assert cache.parse(ders[2]) is parsed[2] and cache.parse(bytearray(ders[1])) is parsed[1]
    back = cache.parse(ders[0])
    assert back is not parsed[0] and (back.subject_id, back.key_id, back.der) == \
        (parsed[0].subject_id, parsed[0].key_id, parsed[0].der)
    assert len(cache._entries) == 2


def test_a_device_migrates_while_every_certificate_is_evicted_as_soon_as_parsed(fixture_pki, monkeypatch):
    monkeypatch.setattr(certificates.CERTIFICATES, "capacity", 0)
    _device, head, _ = new_device(fixture_pki)
    response, _ = head.send(head.seal(head.migration(), "tcos"))
    assert response.payload.execution_outcome.all_succeeded
    response, _ = head.send(head.seal(head.change_of_supplier(), "ecos"))
    assert response.payload.execution_outcome.all_succeeded
