"""Cheap observations of the rules the mutants break: one small function per rule.

Each probe drives an in-process emulated device (or the DCC side) through the one exchange its
rule governs and returns what it saw as plain data. ``tests/test_mutants.py`` runs every probe
on the unmutated tree and then on a copy carrying the mutant that names it: the two must
differ, so every mutant demonstrably changes behaviour. Imports happen inside the functions, so
the probes bind to whichever copy of ``rig`` and ``firmware_emu`` is on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

UTC = dt.UTC
START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CANCEL = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
OTHER_DEVICE = bytes.fromhex("7E570D00000000FF")

PROBES: dict[str, Callable] = {}


def probe(function: Callable) -> Callable:
    PROBES[function.__name__] = function
    return function


class Bench:
    """An ESME on the fixture PKI with the test head end of ``tests/emu_helpers``."""

    def __init__(self, pki, device_type: str = "ESME", **kwargs):
        from tests.emu_helpers import new_device

        self.pki = pki
        self.device, self.head, self.clock = new_device(pki, device_type, **kwargs)

    def frame(self, message, signer="tcos"):
        return self.head.seal(message, signer)

    def send(self, frame):
        return self.head.send(frame)

    def cos(self, signer="tcos", **changes):
        return self.frame(self.head.change_of_supplier(signer_label=signer, **changes), signer)

    def statuses(self, response):
        from rig.gbcs import StatusCode

        if response is None:
            return None
        return [StatusCode(o.status).name for o in response.payload.execution_outcome.outcomes]

    def migrate(self):
        response, _ = self.send(self.frame(self.head.migration()))
        return response

    def codes(self, alerts):
        from firmware_emu.alerts import message_alert_code

        return [f"0x{message_alert_code(a):04X}" for a in alerts]

    def holder(self, role_name="TRANSITIONAL_COS"):
        from rig.gbcs import RemotePartyRole

        response = self.head.read_back((RemotePartyRole[role_name],), signer=self.tcos_signer())
        details = response.payload.details[0]
        return details.cells[0].subject_id.hex() if details.cells else None

    def tcos_signer(self):
        from rig.gbcs import RemotePartyRole
        from rig.gbcs import build as b

        cert = self.device.cell_certificate(b.ds_cell(RemotePartyRole.TRANSITIONAL_COS))
        return "ecos" if cert.subject_id == self.pki.entity("ecos") else "tcos"


def _reissue(pki, cert, *, forge: bool = False, policies_critical: bool = True):
    """``cert`` issued again by the issuing CA, with a forged signature or non-critical policies."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
               .public_key(cert.public_key()).serial_number(cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc))
    for extension in cert.extensions:
        critical = extension.critical
        if isinstance(extension.value, x509.CertificatePolicies):
            critical = policies_critical
        builder = builder.add_extension(extension.value, critical)
    key = ec.generate_private_key(ec.SECP256R1()) if forge else pki.issuing_ca.private_key
    return builder.sign(key, hashes.SHA256())


def _der(cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


def _cos_with_ds(bench: Bench, ds, **changes):
    response, _ = bench.send(bench.cos(replacements=bench.head.supplier_replacements(ds=ds), **changes))
    return bench.statuses(response)


# -- authorisation --------------------------------------------------------------------------------


@probe
def tcos_after_migration(pki):
    bench = Bench(pki)
    bench.migrate()
    response, _ = bench.send(bench.cos("tcos"))
    return response is not None


@probe
def losing_supplier_after_cos(pki):
    from rig.gbcs import RemotePartyRole
    from rig.gbcs import build as b

    bench = Bench(pki)
    bench.send(bench.cos("tcos"))
    read = b.cs02a_command(originator_id=pki.entity("supplier_a"), recipient_id=bench.device.entity_id,
                           counter=bench.head.next(), authorising_cell=b.ds_cell(RemotePartyRole.SUPPLIER),
                           roles=(RemotePartyRole.SUPPLIER,), macd=False)
    response, _ = bench.send(bench.frame(read, "supplier_a"))
    return response is not None


@probe
def supplier_signed_mode6(pki):
    from rig.gbcs import RemotePartyRole
    from rig.gbcs import build as b

    bench = Bench(pki)
    message = bench.head.migration()
    message = b.cs02b_command(mode=6, originator_id=pki.entity("supplier_a"), recipient_id=bench.device.entity_id,
                              counter=bench.head.next(), replacements=message.payload.replacements,
                              certification_path=message.payload.certification_path, disapply_time_checks=True,
                              authorising_cell=b.ds_cell(RemotePartyRole.SUPPLIER))
    response, _ = bench.send(bench.frame(message, "supplier_a"))
    return bench.statuses(response)


@probe
def mode6_targets_supplier(pki):
    from rig.crypto import Usage
    from rig.gbcs import KeyUsage, RemotePartyRole
    from rig.gbcs import build as b

    bench = Bench(pki)
    supplier_b = _der(pki.credential("supplier_b", Usage.DS).certificate)
    message = bench.head.migration()
    message = replace(message, payload=replace(message.payload, replacements=(
        b.replacement(supplier_b, RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE),)))
    response, _ = bench.send(bench.frame(message))
    return bench.statuses(response)


@probe
def originator_not_subject(pki):
    bench = Bench(pki)
    message = replace(bench.head.change_of_supplier(signer_label="tcos"), originator_id=pki.entity("supplier_a"))
    response, _ = bench.send(bench.frame(message, "tcos"))
    return response is not None


@probe
def wrong_recipient_direct(pki):
    bench = Bench(pki)
    message = replace(bench.head.change_of_supplier(signer_label="tcos"), recipient_id=OTHER_DEVICE)
    response, _ = bench.send(bench.frame(message, "tcos"))
    return response is not None


# -- path validation ------------------------------------------------------------------------------


@probe
def forged_ca_signature(pki):
    from rig.crypto import Usage

    return _cos_with_ds(Bench(pki), _reissue(pki, pki.credential("supplier_b", Usage.DS).certificate, forge=True))


@probe
def root_signed_organisation(pki):
    from rig.crypto import Usage
    from rig.scenarios.forgery import reissue

    cert = reissue(pki.credential("supplier_b", Usage.DS).certificate, pki.root.private_key,
                   issuer=pki.root.certificate)
    return _cos_with_ds(Bench(pki), cert)


@probe
def wrong_key_usage(pki):
    return _cos_with_ds(Bench(pki), pki.variants["wrong_key_usage_supplier_b_ds"].certificate)


@probe
def wrong_role(pki):
    return _cos_with_ds(Bench(pki), pki.variants["wrong_role_supplier_b_ds"].certificate)


@probe
def expired_replacement_time_checked(pki):
    bench = Bench(pki)
    return _cos_with_ds(bench, pki.variants["expired_supplier_b_ds"].certificate, disapply_time_checks=False)


@probe
def missing_issuing_ca(pki):
    bench = Bench(pki)
    response, _ = bench.send(bench.cos(path=[]))
    return bench.statuses(response)


@probe
def non_critical_policies(pki):
    from rig.crypto import Usage

    cert = _reissue(pki, pki.credential("supplier_b", Usage.DS).certificate, policies_critical=False)
    return _cos_with_ds(Bench(pki), cert)


@probe
def migration_expired_tcos(pki):
    from rig.gbcs import RemotePartyRole
    from rig.gbcs import build as b

    bench = Bench(pki)
    bench.device.state.cells[b.ds_cell(RemotePartyRole.TRANSITIONAL_COS)] = _der(pki.variants["tcos_expired"].certificate)
    return bench.statuses(bench.migrate())


# -- authentication ---------------------------------------------------------------------------------


@probe
def bad_mac(pki):
    bench = Bench(pki)
    frame = bench.cos()
    response, alerts = bench.send(frame[:-1] + bytes([frame[-1] ^ 1]))
    return response is not None, bench.codes(alerts)


@probe
def forged_signature_mode6(pki):
    bench = Bench(pki)
    response, alerts = bench.send(bench.head.seal(bench.head.migration(), bench.head.key("supplier_a")))
    return response is not None, bench.codes(alerts)


@probe
def forged_burns_counter(pki):
    bench = Bench(pki)
    message = bench.head.change_of_supplier(signer_label="tcos")
    bench.send(bench.head.seal(message, bench.head.key("supplier_a")))
    response, _ = bench.send(bench.frame(message))
    return response is not None


@probe
def replay(pki):
    bench = Bench(pki)
    frame = bench.cos()
    bench.send(frame)
    response, _ = bench.send(frame)
    return response is not None


@probe
def replay_alert(pki):
    bench = Bench(pki)
    frame = bench.cos()
    bench.send(frame)
    return bench.codes(bench.send(frame)[1])


@probe
def cs02a_replay(pki):
    from rig.gbcs import RemotePartyRole
    from rig.gbcs import build as b

    bench = Bench(pki)
    read = b.cs02a_command(originator_id=pki.entity("tcos"), recipient_id=bench.device.entity_id,
                           counter=bench.head.next(), authorising_cell=b.ds_cell(RemotePartyRole.TRANSITIONAL_COS),
                           roles=(RemotePartyRole.TRANSITIONAL_COS,), macd=False)
    frame = bench.frame(read)
    bench.send(frame)
    return bench.send(frame)[0] is not None


# -- execution and the response -------------------------------------------------------------------------


@probe
def response_signature(pki):
    from rig.gbcs import decode

    bench = Bench(pki)
    frames = bench.device.receive(bench.cos())
    return [bench.head.device_signed(decode(f), f) for f in frames]


def _supplier_counter_after(pki, *, failing: bool):
    bench = Bench(pki)
    bench.device.state.counters[2] = 500
    bench.send(bench.cos(path=[] if failing else None))
    return dict(sorted(bench.device.state.counters.items()))


@probe
def floors_all_failed(pki):
    return _supplier_counter_after(pki, failing=True)


@probe
def other_floors(pki):
    return _supplier_counter_after(pki, failing=False)


@probe
def saved_before_response(pki):
    from firmware_emu import TrustAnchorStore

    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(pki, state_dir=folder)
        response, _ = bench.send(bench.cos())
        saved = TrustAnchorStore(folder).load()
        return response is not None, dict(saved.counters)


@probe
def power_cut_partial_write(pki):
    from firmware_emu.store import DeviceState, PowerCut, TrustAnchorStore

    with tempfile.TemporaryDirectory() as folder:
        TrustAnchorStore(folder).save(DeviceState({}, {2: 1}))

        def cut(point):
            if point == "partial-write":
                raise PowerCut(point)

        try:
            TrustAnchorStore(folder, fault_hook=cut).save(DeviceState({}, {2: 2}))
        except PowerCut:
            pass
        try:
            return TrustAnchorStore(folder).load().counters
        except ValueError as err:
            return f"unreadable: {type(err).__name__}"


@probe
def cs02a_after_migration(pki):
    bench = Bench(pki, entity_id=bytes.fromhex("7E570D000000ABCD"))
    before = bench.holder()
    bench.migrate()
    return before, bench.holder()


# -- future-dated commands --------------------------------------------------------------------------


def _future(pki, *, ds=None, path=None):
    bench = Bench(pki)
    when = START + dt.timedelta(hours=1)
    replacements = bench.head.supplier_replacements(ds=ds) if ds is not None else None
    response, _ = bench.send(bench.cos(when=when, replacements=replacements, path=path))
    at_receipt = bench.statuses(response) if response is not None and response.payload.execution_outcome else None
    bench.clock.set(when + dt.timedelta(seconds=1))
    from rig.gbcs import decode

    return bench, at_receipt, bench.codes([decode(f) for f in bench.device.poll()])


@probe
def future_dated(pki):
    _, at_receipt, alerts = _future(pki)
    return at_receipt, alerts


@probe
def future_dated_failing(pki):
    unknown = pki.variants["unknown_ca_supplier_b_ds"].certificate
    _, at_receipt, alerts = _future(pki, ds=unknown,
                                    path=[_der(pki.issuing_ca.certificate), _der(pki.unknown_ca.certificate)])
    return at_receipt, alerts


@probe
def cancellation(pki):
    from rig.gbcs import decode

    bench = Bench(pki)
    when = START + dt.timedelta(hours=1)
    bench.send(bench.cos(when=when))
    bench.send(bench.cos(when=CANCEL))
    bench.clock.set(when + dt.timedelta(seconds=1))
    return len(bench.device.state.pending), bench.codes([decode(f) for f in bench.device.poll()])


@probe
def cancel_other_role(pki):
    from rig.gbcs import RemotePartyRole
    from rig.gbcs import build as b

    bench = Bench(pki)
    bench.send(bench.cos(when=START + dt.timedelta(hours=1)))
    cancel = b.cs02b_command(mode=2, originator_id=pki.entity("supplier_a"), recipient_id=bench.device.entity_id,
                             counter=bench.head.next(), replacements=bench.head.supplier_replacements(),
                             certification_path=[_der(pki.issuing_ca.certificate)], execution_time=CANCEL,
                             authorising_cell=b.ds_cell(RemotePartyRole.SUPPLIER))
    response, _ = bench.send(bench.frame(cancel, "supplier_a"))
    return response is not None, len(bench.device.state.pending)


# -- alerts ---------------------------------------------------------------------------------------------


@probe
def alert_signature(pki):
    from rig.gbcs import decode

    bench = Bench(pki)
    frame = bench.cos()
    frames = bench.device.receive(frame[:-1] + bytes([frame[-1] ^ 1]))
    return [bench.head.device_signed(decode(f), f) for f in frames]


@probe
def alert_counters(pki):
    bench = Bench(pki)
    counters = []
    for _ in range(2):
        frame = bench.cos()
        counters += [a.originator_counter for a in bench.send(frame[:-1] + bytes([frame[-1] ^ 1]))[1]]
    return len(counters) == 2 and counters[1] > counters[0]


@probe
def malformed_alert(pki):
    bench = Bench(pki)
    message = replace(bench.head.change_of_supplier(signer_label="tcos"), mac_header=None)
    return bench.codes(bench.send(bench.frame(message))[1])


@probe
def truncated_direct(pki):
    bench = Bench(pki)
    return bench.codes(bench.send(bench.cos()[:-40])[1])


@probe
def truncated_hub(pki):
    from rig.gbcs import decode
    from rig.provision import create_hub

    bench = Bench(pki)
    hub = create_hub([bench.device], pki=pki, clock=bench.clock)
    frame = bench.cos()
    at = frame.index(0xDF)  # a grouping header the hub cannot read: the CHF itself must react
    return bench.codes([decode(f) for f in hub.receive(frame[:at] + b"\xff" + frame[at + 1:])])


# -- the DCC side ------------------------------------------------------------------------------------------


class Field:
    """An ESME behind an emulated comms hub, the rig's DCC in front (as ``tests/test_dcc_e2e``)."""

    def __init__(self, pki, folder: Path):
        from firmware_emu import ManualClock
        from rig.dcc import Dcc, DccConfig, DeviceRecord, Inventory, RetryPolicy
        from rig.dcc.examples import EXAMPLE_MPXN, example_adt
        from rig.dcc.tables import CredentialStatus
        from rig.provision import create_device, create_hub
        from rig.transport.emulated import EmulatedTransport

        self.pki = pki
        clock = ManualClock(START)
        self.device = create_device("ESME", pki=pki, clock=clock)
        self.hub = create_hub([self.device], pki=pki, clock=clock)
        self.link = EmulatedTransport(self.hub)
        self.link.open()
        self.inventory = Inventory.open(folder / "inventory.sqlite")
        self.dcc = Dcc.from_pki(pki, self.inventory, config=DccConfig(
            response_timeout_s=0.2, retry=RetryPolicy(attempts=1, interval_s=0.0, response_timeout_s=0.2)))
        self.dcc.submit_adt(example_adt(pki))
        self.inventory.add_device(DeviceRecord(
            device_id=self.device.entity_id, device_type="ESME", model=self.device.profile.model, mpxn=EXAMPLE_MPXN,
            supplier_id=pki.entity("supplier_a"), supplier_mpid="SUPB", comms_hub_id=self.hub.chf.entity_id,
            credential_status=CredentialStatus.TCOS), replace=True)

    def request(self, **changes):
        from rig.dcc.examples import example_request

        return example_request(self.pki, **changes)

    def close(self):
        self.inventory.close()


def _field(pki, run: Callable):
    with tempfile.TemporaryDirectory() as folder:
        field = Field(pki, Path(folder))
        try:
            return run(field)
        finally:
            field.close()


@probe
def dcc_n26(pki):
    def run(f):
        f.dcc.migrate(f.device.entity_id, f.link)
        return [a.code for a in f.dcc.submit_623(f.request(), f.link).alerts]
    return _field(pki, run)


@probe
def dcc_n26_not_completed(pki):
    def run(f):
        from rig.dcc.tables import CredentialStatus

        f.inventory.set_credential_status(f.device.entity_id, CredentialStatus.ECOS)  # the device still trusts TCoS
        outcome = f.dcc.submit_623(f.request(), f.link, response_timeout_s=0.05)
        return outcome.status.value, [a.code for a in outcome.alerts]
    return _field(pki, run)


@probe
def dcc_n65(pki):
    def run(f):
        alert = f.dcc.on_device_added_to_device_log(f.hub.chf.entity_id, f.device.entity_id, pki.entity("tcos"))
        return alert.code if alert else None
    return _field(pki, run)


@probe
def dcc_checks(pki):
    from rig.dcc import DeviceRecord, probes
    from rig.dcc.checks import run_checks
    from rig.dcc.examples import EXAMPLE_MPXN, example_request

    record = DeviceRecord(device_id=pki.entity("esme"), device_type="ESME", model="EMU", mpxn=EXAMPLE_MPXN,
                          supplier_id=pki.entity("supplier_a"), supplier_mpid="SUPB", comms_hub_id=pki.entity("chf"))
    failed = {}
    for check in ("mpxn", "issuing_ca_included"):
        request = probes.CASES[check][0](pki, example_request(pki))
        failed[check] = list(run_checks(request, record).failed)
    return failed


@probe
def dcc_counters(pki):
    from rig.dcc import Inventory

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "inventory.sqlite"
        values = []
        for _ in range(2):  # a restart between the two
            inventory = Inventory.open(path)
            values += [inventory.next_counter(pki.entity("ecos"), OTHER_DEVICE) for _ in range(2)]
            inventory.close()
        return values


@probe
def dcc_ecos_floor(pki):
    def run(f):
        outcome = f.dcc.migrate(f.device.entity_id, f.link)
        used = outcome.attempts[-1].counter
        return f.inventory.counter_state(pki.entity("ecos"), f.device.entity_id)[1] >= used
    return _field(pki, run)


@probe
def dcc_recipient(pki):
    def run(f):
        f.dcc.migrate(f.device.entity_id, f.link)
        outcome = f.dcc.submit_623(f.request(), f.link)
        return outcome.command_message.recipient_id == f.device.entity_id, outcome.status.value
    return _field(pki, run)


@probe
def dcc_unverified_answer(pki):
    def run(f):
        f.dcc.device_signature = lambda device_id: (lambda frame, message: False)  # as if signed by another key
        return f.dcc.migrate(f.device.entity_id, f.link).attempts[-1].result.value
    return _field(pki, run)


def observe(name: str, pki) -> object:
    """Run probe ``name``; an exception is an observation too (its type and message)."""
    try:
        return PROBES[name](pki)
    except Exception as err:  # the observation of a crash is "it crashed", compared like any other
        return f"raised {type(err).__name__}: {err}"
