"""Generated GBCS sample frames on the test PKI (``fixtures/samples``).

They keep the codec and crypto tests meaningful where the RTDS vectors are absent, and they are
built from typed values with deterministic signatures, so regenerating them must give the very
same bytes (a test checks that the committed files still do). The set mirrors the RTDS CS02
folders: the TCoS to ECoS migration, change of supplier (immediate, future dated, cancelled,
failing), supplier by supplier, CS02a in both frame variants, CS02c, CS02d and CS02e.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from rig.crypto import certs, seal
from rig.crypto.keystore import Usage
from rig.gbcs import (
    CellContents,
    CosemDateTime,
    CraFlag,
    Cs02cResponse,
    Cs02dCommand,
    Cs02dResponse,
    Cs02eResponse,
    ExecutionOutcome,
    KeyUsage,
    KeyUsageRequest,
    MacHeader,
    Message,
    RemotePartyDetails,
    RemotePartyRole,
    ReplacementMode,
    ReplacementOutcome,
    StatusCode,
)
from rig.gbcs import build as b
from rig.pki import Pki

DEVICE_TIME = CosemDateTime.from_datetime(_dt.datetime(2026, 1, 5, 9, 30, tzinfo=_dt.UTC))
FUTURE = _dt.datetime(2030, 1, 2, tzinfo=_dt.UTC)
DER = serialization.Encoding.DER


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(DER)


class _Ctx:
    """Keys and identities the sample builders share."""

    def __init__(self, pki: Pki):
        self.pki = pki
        self.esme = pki.entity("esme")
        self.tcos = pki.entity("tcos")
        self.ecos = pki.entity("ecos")
        self.acb = pki.entity("acb")
        self.supplier_a = pki.entity("supplier_a")
        self.supplier_b = pki.entity("supplier_b")
        self.path = (_der(pki.issuing_ca.certificate),)

    def key(self, label: str, usage: Usage):
        return self.pki.credential(label, usage).private_key

    def cert(self, label: str, usage: Usage) -> x509.Certificate:
        return self.pki.credential(label, usage).certificate

    def command(self, message: Message, signer: str | None) -> bytes:
        return seal(message, signer=self.key(signer, Usage.DS) if signer else None,
                    mac_private_key=self.key("acb", Usage.KA) if message.mac_header else None,
                    mac_peer=self.cert("esme", Usage.KA).public_key(), deterministic=True)

    def response(self, message: Message, macd: bool = False) -> bytes:
        if macd:
            message = replace(message, mac_header=MacHeader())
        return seal(message, signer=self.key("esme", Usage.DS),
                    mac_private_key=self.key("esme", Usage.KA) if macd else None,
                    mac_peer=self.cert("acb", Usage.KA).public_key() if macd else None,
                    payload_long_form_width=2, deterministic=True)

    def outcome(self, cell, old: x509.Certificate, new: x509.Certificate, status=StatusCode.SUCCESS):
        ok = status == StatusCode.SUCCESS
        return ReplacementOutcome(cell, status, certs.entity_id(old), certs.subject_key_id(old),
                                  certs.entity_id(new if ok else old), certs.subject_key_id(new if ok else old))


def _supplier_replacements(ctx: _Ctx, label: str, ds: x509.Certificate | None = None):
    return [
        b.replacement(_der(ds or ctx.cert(label, Usage.DS)), RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE),
        b.replacement(_der(ctx.cert(label, Usage.KA)), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT),
        b.replacement(_der(ctx.cert(label, Usage.PP_KA)), RemotePartyRole.SUPPLIER, KeyUsage.KEY_AGREEMENT, 1),
    ]


def _supplier_outcomes(ctx: _Ctx, fail_ds: bool = False):
    cells = [b.ds_cell(RemotePartyRole.SUPPLIER), b.ka_cell(RemotePartyRole.SUPPLIER),
             b.ka_cell(RemotePartyRole.SUPPLIER, prepayment=True)]
    usages = [Usage.DS, Usage.KA, Usage.PP_KA]
    out = []
    for cell, usage in zip(cells, usages, strict=True):
        status = StatusCode.NO_TRUST_ANCHOR if fail_ds and usage is Usage.DS else StatusCode.SUCCESS
        out.append(ctx.outcome(cell, ctx.cert("supplier_a", usage), ctx.cert("supplier_b", usage), status))
    return tuple(out)


def _migration(ctx: _Ctx) -> dict[str, bytes]:
    command = b.cs02b_command(
        mode=ReplacementMode.TRANS_COS_BY_TRANS_COS, originator_id=ctx.tcos, recipient_id=ctx.esme, counter=6000,
        replacements=[b.replacement(_der(ctx.cert("ecos", Usage.DS)), RemotePartyRole.TRANSITIONAL_COS,
                                    KeyUsage.DIGITAL_SIGNATURE)],
        certification_path=ctx.path, disapply_time_checks=True,
    )
    outcome = ExecutionOutcome(6000, ReplacementMode.TRANS_COS_BY_TRANS_COS, (), (
        ctx.outcome(b.ds_cell(RemotePartyRole.TRANSITIONAL_COS), ctx.cert("tcos", Usage.DS),
                    ctx.cert("ecos", Usage.DS)),))
    response = b.cs02b_response(command, outcome, date_time=DEVICE_TIME)
    precommand = replace(command, mac_header=None, precommand=True)
    return {
        "CS02bTransCoSByTransCoS_SUCCESS_PRECOMMAND": seal(precommand),
        "CS02bTransCoSByTransCoS_SUCCESS_COMMAND": ctx.command(command, "tcos"),
        "CS02bTransCoSByTransCoS_SUCCESS_RESPONSE": ctx.response(response),
    }


def _change_of_supplier(ctx: _Ctx) -> dict[str, bytes]:
    samples = {}
    floors = (b.supplier_floor(0, 0),)

    def cos(counter, when=None, replacements=None, changes=floors):
        return b.cs02b_command(
            mode=ReplacementMode.SUPPLIER_BY_TRANS_COS, originator_id=ctx.ecos, recipient_id=ctx.esme,
            counter=counter, replacements=replacements or _supplier_replacements(ctx, "supplier_b"),
            certification_path=ctx.path, execution_time=when, other_changes=changes)

    def outcome(counter, fail=False):
        return ExecutionOutcome(counter, ReplacementMode.SUPPLIER_BY_TRANS_COS, floors, _supplier_outcomes(ctx, fail))

    immediate = cos(7001)
    samples["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND"] = ctx.command(immediate, "ecos")
    samples["CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_RESPONSE"] = ctx.response(
        b.cs02b_response(immediate, outcome(7001), date_time=DEVICE_TIME))
    future = cos(7002, FUTURE)
    samples["CS02bSupplierByTransCoS_FUTURE_DATED_SUCCESS_COMMAND"] = ctx.command(future, "ecos")
    samples["CS02bSupplierByTransCoS_FUTURE_DATED_SUCCESS_RESPONSE"] = ctx.response(
        b.cs02b_response(future, None, date_time=DEVICE_TIME))
    samples["CS02bSupplierByTransCoS_8F66_FUTURE_DATED_SUCCESS_ALERT"] = ctx.response(b.cs02b_alert(
        device_id=ctx.esme, recipient_id=ctx.ecos, alert_counter=2001, execution_time=FUTURE, outcome=outcome(7002)))
    cancel = cos(7003, b.CANCELLATION_TIME, changes=None)
    samples["CS02bSupplierByTransCoS_CANCELLATION_SUCCESS_COMMAND"] = ctx.command(cancel, "ecos")
    samples["CS02bSupplierByTransCoS_CANCELLATION_SUCCESS_RESPONSE"] = ctx.response(
        b.cs02b_response(cancel, None, date_time=DEVICE_TIME))
    unknown = ctx.pki.variants["unknown_ca_supplier_b_ds"].certificate
    failing = cos(7004, FUTURE, _supplier_replacements(ctx, "supplier_b", ds=unknown))
    samples["CS02bSupplierByTransCoS_FUTURE_DATED_ERROR_COMMAND"] = ctx.command(failing, "ecos")
    samples["CS02bSupplierByTransCoS_8F67_FUTURE_DATED_ERROR_ALERT"] = ctx.response(b.cs02b_alert(
        device_id=ctx.esme, recipient_id=ctx.ecos, alert_counter=2002, execution_time=FUTURE,
        outcome=outcome(7004, fail=True)))
    by_supplier = b.cs02b_command(
        mode=ReplacementMode.SUPPLIER_BY_SUPPLIER, originator_id=ctx.supplier_a, recipient_id=ctx.esme,
        counter=1000, replacements=_supplier_replacements(ctx, "supplier_b"), certification_path=ctx.path,
        new_floor=0, new_specialist_floors=(b.SpecialistSeqNumber(0, 0),))
    samples["CS02bSupplierBySupplier_IMMEDIATE_SUCCESS_COMMAND"] = ctx.command(by_supplier, "supplier_a")
    return samples


def _cs02a(ctx: _Ctx) -> dict[str, bytes]:
    samples = {}
    acb_ka = b.ka_cell(RemotePartyRole.ACCESS_CONTROL_BROKER)
    mac_only = b.cs02a_command(originator_id=ctx.acb, recipient_id=ctx.esme, counter=1500, authorising_cell=acb_ka,
                               roles=(RemotePartyRole.SUPPLIER, RemotePartyRole.WAN_PROVIDER))
    supplier_cells = tuple(
        CellContents(KeyUsage.KEY_AGREEMENT if usage is not Usage.DS else KeyUsage.DIGITAL_SIGNATURE,
                     certs.entity_id(ctx.cert("supplier_a", usage)), certs.subject_key_id(ctx.cert("supplier_a", usage)),
                     1 if usage is Usage.PP_KA else 0)
        for usage in (Usage.DS, Usage.KA, Usage.PP_KA))
    details = (RemotePartyDetails(RemotePartyRole.SUPPLIER, StatusCode.SUCCESS, 0, supplier_cells),
               RemotePartyDetails(RemotePartyRole.WAN_PROVIDER, StatusCode.TRUST_ANCHOR_NOT_FOUND))
    samples["CS02aMAC_SUCCESS_COMMAND"] = seal(mac_only, mac_private_key=ctx.key("acb", Usage.KA),
                                               mac_peer=ctx.cert("esme", Usage.KA).public_key())
    samples["CS02aMAC_SUCCESS_RESPONSE"] = seal(
        b.cs02a_response(mac_only, details), mac_private_key=ctx.key("esme", Usage.KA),
        mac_peer=ctx.cert("acb", Usage.KA).public_key(), payload_long_form_width=2)
    signed = b.cs02a_command(originator_id=ctx.tcos, recipient_id=ctx.esme, counter=6100,
                             authorising_cell=b.ds_cell(RemotePartyRole.TRANSITIONAL_COS),
                             roles=(RemotePartyRole.TRANSITIONAL_COS,), macd=False)
    tcos_cell = (CellContents(KeyUsage.DIGITAL_SIGNATURE, ctx.tcos, certs.subject_key_id(ctx.cert("tcos", Usage.DS))),)
    samples["CS02aSignature_SUCCESS_COMMAND"] = ctx.command(signed, "tcos")
    samples["CS02aSignature_SUCCESS_RESPONSE"] = ctx.response(b.cs02a_response(
        signed, (RemotePartyDetails(RemotePartyRole.TRANSITIONAL_COS, StatusCode.SUCCESS, 6000, tcos_cell),)))
    return samples


def _device_credentials(ctx: _Ctx) -> dict[str, bytes]:
    samples = {}

    def command(code, payload, counter):
        return Message(CraFlag.COMMAND, counter, ctx.supplier_a, ctx.esme, code, payload, mac_header=MacHeader())

    def response(command_message, payload):
        return Message(CraFlag.RESPONSE, command_message.originator_counter, ctx.esme, ctx.supplier_a,
                       command_message.message_code, payload, date_time=DEVICE_TIME)

    issue = command(0x000A, KeyUsageRequest(KeyUsage.DIGITAL_SIGNATURE), 1100)
    device_ds = ctx.key("esme", Usage.DS)
    request = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .sign(device_ds, hashes.SHA256(), ecdsa_deterministic=True))
    samples["CS02c_SUCCESS_COMMAND"] = ctx.command(issue, "supplier_a")
    samples["CS02c_SUCCESS_RESPONSE"] = ctx.response(response(issue, Cs02cResponse(request=request.public_bytes(DER))))
    samples["CS02c_ERROR_RESPONSE"] = ctx.response(response(issue, Cs02cResponse(error=1)))
    update = command(0x000B, Cs02dCommand(_der(ctx.cert("esme", Usage.DS))), 1101)
    samples["CS02d_SUCCESS_COMMAND"] = ctx.command(update, "supplier_a")
    samples["CS02d_SUCCESS_RESPONSE"] = ctx.response(response(update, Cs02dResponse(0)))
    provide = command(0x000C, KeyUsageRequest(KeyUsage.KEY_AGREEMENT), 1102)
    samples["CS02e_SUCCESS_COMMAND"] = ctx.command(provide, "supplier_a")
    samples["CS02e_SUCCESS_RESPONSE"] = ctx.response(
        response(provide, Cs02eResponse(certificate=_der(ctx.cert("esme", Usage.KA)))))
    samples["CS02e_ERROR_RESPONSE"] = ctx.response(response(provide, Cs02eResponse(error=2)))
    return samples


SAMPLE_GROUPS: tuple[Callable[[_Ctx], dict[str, bytes]], ...] = (_migration, _change_of_supplier, _cs02a,
                                                                 _device_credentials)


def generate_samples(pki: Pki) -> dict[str, bytes]:
    """All samples, by name (files are ``<name>.hex``; not ``_GBCS.HEX``, which marks RTDS vectors)."""
    ctx = _Ctx(pki)
    samples: dict[str, bytes] = {}
    for group in SAMPLE_GROUPS:
        samples.update(group(ctx))
    return samples


def write_samples(samples: dict[str, bytes], directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in sorted(samples.items()):
        path = out / f"{name}.hex"
        path.write_text(frame.hex().upper() + "\n")
        paths.append(path)
    return paths


def read_samples(directory: str | Path) -> dict[str, bytes]:
    return {path.stem: bytes.fromhex(path.read_text().strip()) for path in sorted(Path(directory).glob("*.hex"))}
