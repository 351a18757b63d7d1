"""Provisioning emulated devices: from the test PKI, or from a key store of captured credentials.

``firmware_emu`` knows nothing of PKIs; this module decides what an emulated device holds when
it leaves the "factory": its own key pairs and device certificates, and the organisation
certificates in its trust anchor cells (the root, recovery, the responsible supplier, the
network operator, the access control broker, the WAN provider, and the transitional CoS party
or, for a device installed after the switch-over, the ECoS party).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from firmware_emu import (
    CELLS,
    Clock,
    CommsHub,
    DeviceIdentity,
    DeviceType,
    EmulatedDevice,
    ManualClock,
    ModelProfile,
    TrustAnchorStore,
    get_profile,
)
from firmware_emu.device_types import ROOT
from firmware_emu.start_state import DeviceStartState, GeneratedKey
from rig import pki as pki_module
from rig.crypto import KeyStore, Usage, certs
from rig.gbcs import CellUsage, CraFlag, Cs02bCommand, KeyUsage, RemotePartyRole, TrustAnchorCellId, decode
from rig.gbcs.bytecode_cache import user_cache_root

FIXTURE_PKI = Path(__file__).resolve().parents[1] / "fixtures" / "pki"
DER = serialization.Encoding.DER
_USAGE_OF = {(KeyUsage.DIGITAL_SIGNATURE, CellUsage.MANAGEMENT): Usage.DS,
             (KeyUsage.KEY_AGREEMENT, CellUsage.MANAGEMENT): Usage.KA,
             (KeyUsage.KEY_AGREEMENT, CellUsage.PREPAYMENT_TOP_UP): Usage.PP_KA}
#: which test PKI party fills which role's cells by default
DEFAULT_PARTIES = {RemotePartyRole.RECOVERY: "recovery", RemotePartyRole.SUPPLIER: "supplier_a",
                   RemotePartyRole.NETWORK_OPERATOR: "network_operator",
                   RemotePartyRole.ACCESS_CONTROL_BROKER: "acb", RemotePartyRole.TRANSITIONAL_COS: "tcos",
                   RemotePartyRole.WAN_PROVIDER: "wan_provider"}


def fixture_pki_dir() -> Path:
    """A folder holding the default test PKI: the checkout's ``fixtures/pki`` when running from
    one, else the same PKI generated from the default seed into the user's cache folder (an
    installed package has no ``fixtures``)."""
    if (FIXTURE_PKI / "pki.toml").exists():
        return FIXTURE_PKI
    cache = user_cache_root() / "pki"
    if not (cache / "pki.toml").exists():
        pki_module.write(default_pki(), cache)
    return cache


@cache
def _load_pki(folder: str) -> pki_module.Pki:
    return pki_module.load(folder)


def load_pki(folder: str | Path) -> pki_module.Pki:
    """A PKI folder, loaded once per process (devices provisioned on it share its key objects)."""
    return _load_pki(str(Path(folder).resolve()))


@cache
def default_pki() -> pki_module.Pki:
    """The committed fixture PKI (generated from the default seed if the folder is missing)."""
    if (FIXTURE_PKI / "pki.toml").exists():
        return pki_module.load(FIXTURE_PKI)
    return pki_module.generate()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(DER)


def pki_cells(pki: pki_module.Pki, device_type: DeviceType, *, supplier: str = "supplier_a",
              cos_party: str = "tcos") -> dict[TrustAnchorCellId, bytes]:
    """Trust anchor cell contents for a device of ``device_type`` on ``pki``."""
    parties = {**DEFAULT_PARTIES, RemotePartyRole.SUPPLIER: supplier, RemotePartyRole.TRANSITIONAL_COS: cos_party}
    cells: dict[TrustAnchorCellId, bytes] = {}
    for cell in CELLS[device_type]:
        if cell == ROOT:
            cells[cell] = _der(pki.root.certificate)
            continue
        label = parties.get(cell.role)
        usage = _USAGE_OF.get((cell.key_usage, cell.cell_usage))
        if label is None or usage is None:
            continue
        key = (pki.entity(label), usage)
        if key in pki.credentials:
            cells[cell] = _der(pki.credentials[key].certificate)
    return cells


def _identity(pki: pki_module.Pki, device_type: DeviceType, entity_id: bytes | None) -> DeviceIdentity:
    if entity_id is None:
        entity_id = next(eid for label, (kind, eid) in pki.devices.items() if kind == device_type.value)
    credentials = {}
    for usage in (Usage.DS, Usage.KA):
        credential = pki.credentials.get((entity_id, usage))
        if credential is None:
            credential = pki_module.device_credential(pki.seed, pki.device_ca, entity_id, usage)
            pki.credentials[(entity_id, usage)] = credential
        credentials[usage] = credential
    return DeviceIdentity(device_type, entity_id, credentials[Usage.DS].private_key, credentials[Usage.KA].private_key,
                          _der(credentials[Usage.DS].certificate), _der(credentials[Usage.KA].certificate))


def create_device(device_type: str | DeviceType, *, pki: pki_module.Pki | None = None, entity_id: bytes | None = None,
                  profile: str | ModelProfile = "default", clock: Clock | None = None,
                  state_dir: str | Path | None = None, supplier: str = "supplier_a",
                  cos_party: str = "tcos") -> EmulatedDevice:
    """A device provisioned on ``pki`` (default: the fixture PKI).

    ``cos_party="ecos"`` gives a device made after the switch-over (its transitional CoS cell
    already holds the ECoS certificate). With ``state_dir`` the device persists its state there
    and, when state is already present, restarts from it.
    """
    pki = pki or default_pki()
    kind = DeviceType.parse(device_type)
    identity = _identity(pki, kind, entity_id)
    store = TrustAnchorStore(state_dir) if state_dir is not None else None
    return EmulatedDevice(identity, cells=pki_cells(pki, kind, supplier=supplier, cos_party=cos_party),
                          profile=get_profile(profile), clock=clock, store=store)


def create_hub(devices: Iterable[EmulatedDevice] = (), *, pki: pki_module.Pki | None = None,
               clock: Clock | None = None, chf_id: bytes | None = None, gpf: bool = True,
               profile: str | ModelProfile = "default") -> CommsHub:
    """A comms hub (CHF and, by default, GPF) with ``devices`` on its device log."""
    pki = pki or default_pki()
    chf = create_device(DeviceType.CHF, pki=pki, entity_id=chf_id, clock=clock, profile=profile)
    gpf_device = create_device(DeviceType.GPF, pki=pki, clock=clock, profile=profile) if gpf else None
    hub = CommsHub(chf, gpf_device)
    for device in devices:
        hub.join(device)
    return hub


def fleet_ids(count: int, prefix: bytes = bytes.fromhex("7E5710")) -> list[bytes]:
    """Deterministic entity ids for a fleet of emulated devices."""
    return [prefix + index.to_bytes(8 - len(prefix), "big") for index in range(1, count + 1)]


def create_fleet(count: int, *, pki: pki_module.Pki | None = None, device_types: Sequence[str] = ("ESME", "GSME"),
                 clock: Clock | None = None, profile: str | ModelProfile = "default") -> CommsHub:
    """``count`` devices (alternating ``device_types``) behind one emulated comms hub."""
    pki = pki or default_pki()
    devices = [create_device(device_types[i % len(device_types)], pki=pki, entity_id=eid, clock=clock,
                             profile=profile) for i, eid in enumerate(fleet_ids(count))]
    return create_hub(devices, pki=pki, clock=clock)


# -- seeding from a captured key store (e.g. the RTDS one) --------------------------------------


def keystore_cells(keystore: KeyStore, device_type: DeviceType, *, supplier: bytes | None = None,
                   root: bytes | None = None) -> tuple[dict[TrustAnchorCellId, bytes], list[str]]:
    """Fill cells from the key store's organisation certificates by role (OU) and key usage.

    One entity is chosen per role and fills all of that role's cells: the one with a DS
    certificate for the role and the lowest entity id, or ``supplier`` for the supplier role
    (a key store may hold several suppliers). Returns the cells and notes on each choice.
    """
    notes = []
    by_role: dict[RemotePartyRole, dict[bytes, dict[Usage, x509.Certificate]]] = {}
    for entry in keystore.organisation_entries():
        cert = keystore.certificate(entry.entity_id, entry.usage)
        role = certs.role(cert)
        if role is not None:
            by_role.setdefault(role, {}).setdefault(entry.entity_id, {})[entry.usage] = cert
    chosen: dict[RemotePartyRole, bytes] = {}
    for role, entities in by_role.items():
        ranked = sorted(entities, key=lambda eid: (Usage.DS not in entities[eid], eid))
        pick = supplier if role == RemotePartyRole.SUPPLIER and supplier in entities else ranked[0]
        chosen[role] = pick
        if len(entities) > 1:
            notes.append(f"role {role.name.lower()}: {len(entities)} entities in the key store, "
                         f"cells filled from {pick.hex().upper()}")
    cells: dict[TrustAnchorCellId, bytes] = {}
    for cell in CELLS[device_type]:
        if cell == ROOT:
            if root is not None:
                cells[cell] = root
            continue
        usage = _USAGE_OF.get((cell.key_usage, cell.cell_usage))
        entity = chosen.get(cell.role)
        cert = by_role.get(cell.role, {}).get(entity, {}).get(usage) if entity is not None else None
        if cert is None:
            notes.append(f"cell {cell}: no certificate in the key store, left empty")
            continue
        cells[cell] = _der(cert)
    return cells, notes


def _peer_ka_keys(keystore: KeyStore, cells: dict[TrustAnchorCellId, bytes]) -> dict[bytes, ec.EllipticCurvePrivateKey]:
    """KA private keys of the remote parties in the device's KA cells, by their public point."""
    found = {}
    for cell, der in cells.items():
        if cell.key_usage != KeyUsage.KEY_AGREEMENT:
            continue
        cert = x509.load_der_x509_certificate(der)
        entity = certs.entity_id(cert)
        for usage in (Usage.KA, Usage.PP_KA):
            if keystore.has_private_key(entity, usage):
                key = keystore.private_key(entity, usage)
                found[public_point(key.public_key())] = key
    return found


def rtds_start_state(keystore: KeyStore, device_id: bytes) -> DeviceStartState:
    """The RTDS reference device's starting state, as its own responses show it.

    * Key pairs: the key pair an RTDS device generated (and generates) for a usage is the one
      its key-store certificate certifies. [RTDS 6.17 CS02c SUCCESS: the request carries
      00DB1234567890A0's DS certificate public key; 6.15.2 CS02d SUCCESS installs that
      certificate; 6.24.2 CS02e SUCCESS returns it.] So each certified usage is both waiting
      for its certificate (``generated_keys``) and the next one CS02c yields (``next_keys``).
    * Cells: as the key store gives them (``keystore_cells``); the RTDS CS02a/CS02f responses
      list exactly those subjects and key ids.
    * Counters: none needed. The RTDS responses' currentSeqNumber values are the entries'
      positions (``ModelProfile.reported_seq_number``), not counters, and every RTDS command's
      counter is above zero, so starting at 0 accepts each as the RTDS device did.
    """
    keys = {}
    for usage, name in ((Usage.DS, "ds"), (Usage.KA, "ka")):
        if not keystore.has_certificate(device_id, usage):
            continue
        public = public_point(keystore.certificate(device_id, usage).public_key())
        private = (keystore.private_key(device_id, usage).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            if keystore.has_private_key(device_id, usage) else None)
        keys[name] = GeneratedKey(public, private)
    notes = []
    if keys:
        notes.append(f"rtds starting state: {', '.join(sorted(keys))} key pair(s) of {device_id.hex().upper()} "
                     f"from its key-store certificates (generated, awaiting CS02d, and next for CS02c)")
    for name, key in sorted(keys.items()):
        if key.private is None:
            notes.append(f"a CS02c {name} request carries the {name} certificate's public key but is signed with the "
                         f"emulated device's DS key: that key pair's private key is not in the key store")
    return DeviceStartState(generated_keys=dict(keys), next_keys=dict(keys), notes=notes)


def keystore_device(keystore: KeyStore, device_type: str | DeviceType, device_id: bytes, *,
                    supplier: bytes | None = None, trusted_cas: Sequence[bytes] = (),
                    profile: str | ModelProfile = "rtds", clock: Clock | None = None,
                    state: DeviceStartState | None = None) -> tuple[EmulatedDevice, list[str]]:
    """An emulated device seeded from a captured key store (what ``gbcs-rig replay`` uses).

    The device uses the key store's private keys for ``device_id`` where present. Its
    certificates come from the key store even without the private keys (CS02e returns them).
    Without its KA private key the MAC secret is derived from the remote party's side (the key
    store holds the ACB's KA private key; static ECDH is symmetric). Without its DS private key
    it signs with a fresh key (which its certificate does not certify). ``state`` is the
    starting state (cells, counters, pending commands, generated key pairs), applied over the
    cells the key store gives. Every such choice is in the notes.
    """
    kind = DeviceType.parse(device_type)
    notes: list[str] = []
    keys: dict[Usage, ec.EllipticCurvePrivateKey | None] = {}
    certificates: dict[Usage, bytes | None] = {}
    eui = device_id.hex().upper()
    for usage in (Usage.DS, Usage.KA):
        has_cert = keystore.has_certificate(device_id, usage)
        certificates[usage] = _der(keystore.certificate(device_id, usage)) if has_cert else None
        if keystore.has_private_key(device_id, usage):
            keys[usage] = keystore.private_key(device_id, usage)
        elif usage == Usage.KA and has_cert:
            keys[usage] = None
            notes.append(f"no ka private key for {eui} in the key store: its KA certificate is used and MACs are "
                         f"computed from the remote party's KA private key (ECDH is symmetric)")
        else:
            keys[usage] = ec.generate_private_key(ec.SECP256R1())
            what = ("its certificate from the key store is kept (CS02e returns it) but does not certify this key"
                    if has_cert else "no certificate either")
            notes.append(f"no {usage.value} private key for {eui} in the key store: the emulated device signs "
                         f"with a fresh key (public key {public_point(keys[usage].public_key()).hex().upper()}); "
                         f"{what}")
    cells, cell_notes = keystore_cells(keystore, kind, supplier=supplier)
    notes += cell_notes
    if trusted_cas:
        notes.append(f"path validation trusts {len(trusted_cas)} issuing CA certificate(s) besides the root cell "
                     f"(given with --trust-ca, or found next to the key store)")
    ka_public = None
    if keys[Usage.KA] is None:
        ka_public = x509.load_der_x509_certificate(certificates[Usage.KA]).public_key()
    if state is None and get_profile(profile).name == "rtds":
        state = rtds_start_state(keystore, device_id)
    start = state or DeviceStartState()
    cells = {**cells, **start.cells}
    identity = DeviceIdentity(kind, device_id, keys[Usage.DS], keys[Usage.KA], certificates[Usage.DS],
                              certificates[Usage.KA], ka_public=ka_public,
                              peer_ka_keys=_peer_ka_keys(keystore, {c: d for c, d in cells.items() if d}))
    device = EmulatedDevice(identity, cells=cells, profile=get_profile(profile), clock=clock, trusted_cas=trusted_cas,
                            counters=start.counters)
    start.apply(device)
    notes += start.notes
    return device, notes


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


# -- replaying a captured command ------------------------------------------------------------


@dataclass
class KeystoreShape:
    """What ``detect_keystore`` found: whether it looks like the DCC RTDS key store, and why."""

    rtds_style: bool
    reasons: list[str]
    #: issuers of the organisation certificates that the key store itself does not hold (subject -> AKI)
    missing_issuers: dict[str, bytes | None]
    #: the latest notAfter among the organisation certificates (None: none found)
    not_after: _dt.datetime | None


def detect_keystore(keystore: KeyStore) -> KeystoreShape:
    """Is this key store shaped like the DCC RTDS one? Device certificates without the devices'
    signing keys (real reference devices nobody can sign as) and organisation certificates issued
    by a CA the key store does not hold. Such devices are answered as the RTDS devices answer
    (``--profile rtds``) and need their issuing CA given as a trust anchor."""
    subjects = set()
    issuers: dict[str, bytes | None] = {}
    devices_without_keys = []
    not_after = None
    for entry in keystore.entries():
        if not keystore.has_certificate(entry.entity_id, entry.usage):
            continue
        cert = keystore.certificate(entry.entity_id, entry.usage)
        subjects.add(cert.subject.rfc4514_string())
        if certs.role(cert) is not None:
            issuers[cert.issuer.rfc4514_string()] = certs.authority_key_id(cert)
            end = cert.not_valid_after_utc
            not_after = end if not_after is None or end > not_after else not_after
        elif entry.usage == Usage.DS and not keystore.has_private_key(entry.entity_id, Usage.DS):
            devices_without_keys.append(entry.entity_id)
    missing = {name: aki for name, aki in issuers.items() if name not in subjects}
    reasons = []
    if devices_without_keys:
        reasons.append(f"{len(devices_without_keys)} device certificate(s) without the device's DS private key "
                       f"(real reference devices)")
    if missing:
        reasons.append(f"organisation certificates issued by {', '.join(sorted(missing))}, which the key store "
                       f"does not hold")
    return KeystoreShape(bool(devices_without_keys and missing), reasons, missing, not_after)


def find_trust_anchors(keystore: KeyStore, shape: KeystoreShape) -> list[tuple[Path, bytes]]:
    """Issuing CA certificates for the key store, from a ``ca`` folder next to it (the RTDS layout)."""
    if keystore.directory is None:
        return []
    folder = keystore.directory.resolve().parent / "ca"
    found = []
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        try:
            cert = certs.load_certificate(path.read_bytes())
        except ValueError:
            continue
        if cert.subject.rfc4514_string() in shape.missing_issuers:
            found.append((path, _der(cert)))
    return found


def _expired_at(command: Cs02bCommand, when: _dt.datetime) -> list[str]:
    """The replacement certificates of ``command`` not valid at ``when`` (target cell: notAfter)."""
    out = []
    for replacement in command.replacements:
        try:
            cert = x509.load_der_x509_certificate(replacement.certificate)
        except Exception:  # unloadable: the device judges it (badCertificate); this is a note only
            continue
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            out.append(f"{replacement.target_cell}: notAfter {cert.not_valid_after_utc.date()}")
    return out


@dataclass
class ReplayResult:
    """What the device answered to one replayed command, and the notes saying how it was set up."""

    device: EmulatedDevice
    profile: str
    response: bytes | None
    alerts: list[bytes]
    notes: list[str]


def replay(frame: bytes, keystore: KeyStore, device_type: str | DeviceType, *, device_id: bytes | None = None,
           supplier: bytes | None = None, trusted_cas: Sequence[bytes] | None = None,
           at: _dt.datetime | None = None, profile: str | None = None,
           state: DeviceStartState | None = None) -> ReplayResult:
    """Feed a captured command to a device seeded from ``keystore`` (the API under ``gbcs-rig replay``).

    ``profile=None`` picks ``rtds`` for an RTDS-style key store (``detect_keystore``) and
    ``default`` otherwise; ``trusted_cas=None`` looks for the key store's issuing CAs in a ``ca``
    folder next to it. A future-dated command is also executed (the clock moves to its execution
    time) so its 0x8F66/0x8F67 alert is returned. A command the device discards gets a note with
    the device's reason (which key or cell was missing).
    """
    command = decode(frame)
    notes: list[str] = []
    shape = detect_keystore(keystore)
    if profile is None:
        profile = "rtds" if shape.rtds_style else "default"
        why = "; ".join(shape.reasons) if shape.rtds_style else "not shaped like the RTDS key store"
        notes.append(f"profile {profile} chosen for the key store: {why}")
    elif shape.rtds_style and profile != "rtds":
        notes.append(f"the key store is RTDS-style ({'; '.join(shape.reasons)}) but profile {profile} was asked "
                     f"for: the RTDS devices validate without time checks, this profile does not")
    if trusted_cas is None:
        anchors = find_trust_anchors(keystore, shape)
        trusted_cas = [der for _, der in anchors]
        if anchors:
            notes.append(f"trust anchors: {', '.join(p.name for p, _ in anchors)} from the ca folder next to the key "
                         f"store (the issuer(s) of its organisation certificates)")
        elif shape.missing_issuers:
            notes.append(f"no trust anchor for {', '.join(sorted(shape.missing_issuers))}: replacements will not chain "
                         f"(give the issuing CA with --trust-ca)")
    clock = ManualClock(at or _dt.datetime.now(_dt.UTC))
    device, seed_notes = keystore_device(keystore, device_type, device_id or command.recipient_id, supplier=supplier,
                                         trusted_cas=trusted_cas, profile=profile, clock=clock, state=state)
    notes += seed_notes
    frames = device.receive(frame)  # never raises
    payload = command.payload
    if isinstance(payload, Cs02bCommand) and payload.is_future_dated:
        execute_at = payload.execution_date_time
        clock.set(max(clock.now(), execute_at))
        notes.append(f"device clock moved to the execution time {execute_at.isoformat()}")
        expired = _expired_at(payload, execute_at)
        if expired and get_profile(profile).reliable_time and not payload.control.disapplies_time_checks:
            notes.append(f"at the execution time {len(expired)} replacement certificate(s) have expired ("
                         f"{', '.join(expired)}): a device with reliable time answers badCertificate for them; "
                         f"the RTDS devices validate without time checks (--profile rtds)")
        frames += device.poll()
    decoded = [(f, decode(f)) for f in frames]
    response = next((f for f, m in decoded if m.cra_flag == CraFlag.RESPONSE), None)
    alerts = [f for f, m in decoded if m.cra_flag == CraFlag.ALERT]
    if response is None and device.events:
        notes.append(f"the device answered nothing: {device.events[-1].detail}")
    return ReplayResult(device, get_profile(profile).name, response, alerts, notes)
