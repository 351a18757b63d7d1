"""An emulated ESME, GSME, CHF or GPF: a pure state machine, frames in, frames out.

``receive`` decodes a command, runs the authentication sequence GBCS defines for its use case
and hands it to the use case's handler (``cs02b``, ``credentials``); ``poll`` executes
future-dated commands whose time has come and releases held-back frames (slow models). State
changes are saved through the ``TrustAnchorStore`` before any frame leaves the device, so a
power cut never loses a change a frame reported.

Authentication sequence (``docs/reference/gbcs-cs02b.md`` section 8, the project's order):
frame shape, MAC (access control broker KA cell), the authorising trust anchor cell and its
subject, anti-replay counter, signature with the cell's key; the counter is committed only when
every check passed (``counters`` holds every rule that moves a counter). Failures go through the
``rejections`` table.

Neither ``receive`` nor ``poll`` raises. Each command runs against a snapshot of the device
state: a rejection, or any failure the handlers did not foresee, puts the state back as it was
(so memory and disk hold what they held before the command), logs the event and answers as the
rejections table says. A ``PowerCut`` (a ``BaseException``) still ends the call, as power loss
ends a real meter's.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rig.crypto import seal, verify_mac, verify_signature
from rig.gbcs import CraFlag, GbcsDecodeError, MacHeader, Message, decode
from rig.gbcs.message import CosemDateTime
from rig.gbcs.payloads.cs02 import TrustAnchorCellId
from rig.gbcs.tables import (
    CS02A_CODES,
    CS02C_CODE,
    CS02D_CODE,
    CS02E_CODE,
    MESSAGE_CODE_MODE,
    KeyUsage,
    RemotePartyRole,
)

from . import alerts, counters
from .certificates import CertificateError, ParsedCertificate, parse_certificate
from .clock import Clock, SystemClock
from .device_types import CELLS, DeviceType
from .device_types import cell as _cell
from .events import Event
from .private_keys import PrivateKeyField
from .profiles import DEFAULT, ModelProfile, get_profile
from .rejections import ALERT_RECIPIENT_ROLES, REJECTIONS, Reason
from .store import DeviceState, TrustAnchorStore

#: the usual ``peer_ka_keys``: none (shared, read-only; a replay gives its own mapping)
NO_PEER_KEYS: Mapping[bytes, ec.EllipticCurvePrivateKey] = MappingProxyType({})
_DS_KEY, _KA_KEY = PrivateKeyField(), PrivateKeyField()
ACB_KA = _cell(RemotePartyRole.ACCESS_CONTROL_BROKER, KeyUsage.KEY_AGREEMENT)
_ROOT = RemotePartyRole.ROOT
NO_ID = bytes(8)
#: the security header GBCS allows on a MACed command [RTDS: every one of 815 MACed frames]:
#: authentication only with suite 1, and an invocation counter of zero (gbcs-parser fixes it too)
SECURITY_CONTROL = 0x11
INVOCATION_COUNTER = 0


@dataclass(frozen=True)
class DeviceIdentity:
    """Who the device is: its entity id, its own key pairs and certificates.

    ``ka_key`` may be ``None`` for a replay of a real device whose KA private key is unknown:
    then ``ka_public`` is its KA public key (from its certificate) and ``peer_ka_keys`` holds
    remote parties' KA private keys by their public point, so a MAC is computed from the other
    side (static ECDH is symmetric: d_acb * Q_device == d_device * Q_acb).
    """

    device_type: DeviceType
    entity_id: bytes
    #: held as DER, handed out as key objects (``private_keys``: an idle device stays small)
    ds_key: ec.EllipticCurvePrivateKey = _DS_KEY  # type: ignore[assignment]
    ka_key: ec.EllipticCurvePrivateKey | None = _KA_KEY  # type: ignore[assignment]
    ds_certificate: bytes | None = None
    ka_certificate: bytes | None = None
    ka_public: ec.EllipticCurvePublicKey | None = None
    peer_ka_keys: Mapping[bytes, ec.EllipticCurvePrivateKey] = field(default_factory=lambda: NO_PEER_KEYS)

    def mac_key_pair(self, peer: ec.EllipticCurvePublicKey) -> tuple[ec.EllipticCurvePrivateKey,
                                                                       ec.EllipticCurvePublicKey] | None:
        """(private key, public key) whose ECDH gives the secret shared with ``peer``, or None."""
        private = self.ka_key  # read once: each read hands the key object out of ``private_keys``
        if private is not None:
            return private, peer
        own = self.ka_public
        private = self.peer_ka_keys.get(_point(peer))
        if own is None or private is None:
            return None
        return private, own


def certificate_or_none(der: bytes | None) -> ParsedCertificate | None:
    """A cell's certificate: None for an empty cell or bytes no longer readable as one."""
    if der is None:
        return None
    try:
        return parse_certificate(der)
    except CertificateError:
        return None


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class Rejected(Exception):
    """Raised inside a handler to discard the command with a ``Reason``."""

    def __init__(self, reason: Reason, detail: str = ""):
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


Handler = Callable[["EmulatedDevice", bytes, Message], list[bytes]]


@cache
def _handlers() -> dict[int, Handler]:
    from . import credentials, cs02b, device_keys

    table: dict[int, Handler] = {code: cs02b.handle for code in MESSAGE_CODE_MODE}
    table.update({code: credentials.handle_cs02a for code in CS02A_CODES})
    table[CS02E_CODE] = credentials.handle_cs02e
    table[CS02C_CODE] = device_keys.handle_cs02c
    table[CS02D_CODE] = device_keys.handle_cs02d
    return table


def check_security_header(message: Message) -> None:
    """The MAC header values GBCS allows (the codec already insists on empty ciphering fields)."""
    header = message.mac_header
    if header is None:
        return
    if header.security_control != SECURITY_CONTROL:
        raise Rejected(Reason.MALFORMED, f"security control 0x{header.security_control:02X}, "
                                         f"GBCS uses 0x{SECURITY_CONTROL:02X}")
    if header.invocation_counter != INVOCATION_COUNTER:
        raise Rejected(Reason.MALFORMED, f"invocation counter {header.invocation_counter}, GBCS uses 0")


class EmulatedDevice:
    """One emulated device (implements ``firmware_emu.endpoint.Endpoint``)."""

    def __init__(self, identity: DeviceIdentity, *, cells: Mapping[TrustAnchorCellId, bytes | None] | None = None,
                 profile: ModelProfile | str = DEFAULT, clock: Clock | None = None,
                 store: TrustAnchorStore | None = None, trusted_cas: Sequence[bytes] = (),
                 counters: Mapping[int, int] | None = None):
        self.identity = identity
        self.profile = get_profile(profile)
        self.clock = clock or SystemClock()
        self.store = store or TrustAnchorStore()
        #: extra path-validation anchors (a replay of RTDS traffic trusts its issuing CA)
        self.trusted_cas = tuple(parse_certificate(der) for der in trusted_cas)
        self._held: list[tuple[float, bytes]] = []  # (monotonic release time, frame) of a slow model
        self._handlers = _handlers()
        #: callbacks told when the device has output to poll for (its comms hubs); see ``CommsHub``
        self._wakers: tuple[Callable[[EmulatedDevice], None], ...] = ()
        loaded = self.store.load()
        if loaded is not None:
            self.state = loaded
        else:
            table = {c: None for c in self.cell_table}
            for c, der in (cells or {}).items():
                if c not in table:
                    raise ValueError(f"{identity.device_type.value} has no trust anchor cell {c}")
                table[c] = bytes(der) if der else None
            self.state = DeviceState(table, dict(counters or {}), alert_counter=self.profile.first_alert_counter)
            self.store.save(self.state)

    # -- identity and cells -------------------------------------------------------------------
    @property
    def entity_id(self) -> bytes:
        return self.identity.entity_id

    @property
    def device_type(self) -> DeviceType:
        return self.identity.device_type

    @property
    def cell_table(self) -> tuple[TrustAnchorCellId, ...]:
        cells = [c for c in CELLS[self.device_type] if c not in self.profile.missing_cells]
        return tuple(cells + [c for c in self.profile.extra_cells if c not in cells])

    def cell_certificate(self, cell: TrustAnchorCellId) -> ParsedCertificate | None:
        return certificate_or_none(self.state.cells.get(cell))

    def anchors(self) -> list[ParsedCertificate]:
        """Path validation anchors: the root cell, plus any extra trusted CAs."""
        # one pass over the cells (this runs for every CS02b command); an empty or unreadable root
        # cell is no anchor
        found = [cert for c, der in self.state.cells.items()
                 if c.role == _ROOT and (cert := certificate_or_none(der)) is not None]
        found.extend(self.trusted_cas)
        return found

    @property
    def events(self) -> list[Event]:
        return self.state.recent_events

    def now(self) -> _dt.datetime:
        return self.clock.now()

    def log(self, code: int, detail: str) -> None:
        self.state.log(Event(self.now(), code, detail))

    # -- Endpoint -------------------------------------------------------------------------------
    def receive(self, frame: bytes) -> list[bytes]:
        snapshot = self.state.snapshot()
        try:
            out = self._release(self._process(frame), response=True)
        except Rejected as rejection:
            self.state.restore(snapshot)
            out = self._reject_safely(rejection, snapshot)
        except Exception as err:  # the device answers every input as GBCS says, never with a crash
            self.state.restore(snapshot)
            out = self._reject_safely(Rejected(Reason.NOT_PROCESSED, f"{type(err).__name__}: {err}"), snapshot)
        if self._wakers and self.outstanding:
            self._wake()
        return out

    @property
    def outstanding(self) -> bool:
        """True while ``poll`` may still emit: future-dated commands pending, or frames held back."""
        return bool(self.state.pending or self._held)

    def _wake(self) -> None:
        for waker in self._wakers:
            try:
                waker(self)
            except Exception:  # a hub's bookkeeping never turns into a device failure
                pass

    def _process(self, frame: bytes) -> list[bytes]:
        try:
            message = decode(frame)
        except GbcsDecodeError as err:
            raise Rejected(Reason.MALFORMED, str(err)) from None
        if message.recipient_id != self.entity_id:
            raise Rejected(Reason.WRONG_RECIPIENT, message.recipient_id.hex().upper())
        if message.cra_flag != CraFlag.COMMAND:
            raise Rejected(Reason.MALFORMED, f"a {message.cra_flag.name.lower()} sent to a device")
        check_security_header(message)
        handler = self._handlers.get(message.message_code)
        if handler is None:
            raise Rejected(Reason.UNSUPPORTED, f"message code 0x{message.message_code:04X}")
        return handler(self, bytes(frame), message)

    def poll(self) -> list[bytes]:
        if not self.state.pending and not self._held:  # the common case: nothing to do, nothing to copy
            return []
        from . import cs02b

        snapshot = self.state.snapshot()
        try:
            out = cs02b.execute_due(self)
        except Exception:  # cs02b guards each command; this is the last line (e.g. the disk failed)
            self.state.restore(snapshot)
            out = []
        out = self._release(out, response=False)
        if self._held:
            now = time.monotonic()
            due = [f for t, f in self._held if t <= now]
            self._held = [(t, f) for t, f in self._held if t > now]
            out.extend(due)
        if self._wakers and self.outstanding:
            self._wake()
        return out

    # -- helpers for handlers -------------------------------------------------------------------
    def authenticate(self, raw: bytes, message: Message, cell: TrustAnchorCellId, *, signed: bool) -> None:
        """MAC, authorising cell, anti-replay and signature; commits nothing (see ``counters.commit``)."""
        if message.mac_header is not None:
            acb = self.cell_certificate(ACB_KA)
            if acb is None or acb.public_key is None:
                raise Rejected(Reason.NOT_AUTHORISED, "no access control broker key agreement trust anchor")
            pair = self.identity.mac_key_pair(acb.public_key)
            if pair is None:
                raise Rejected(Reason.NOT_PROCESSED, "no key agreement private key for the MAC: neither the "
                                                     "device's nor the access control broker's "
                                                     f"({acb.subject_id.hex().upper()}) is known")
            if not verify_mac(raw, message, *pair):
                raise Rejected(Reason.MAC_FAILURE)
        if cell not in self.state.cells:
            raise Rejected(Reason.NOT_AUTHORISED, f"no trust anchor cell {cell} on a {self.device_type.value}")
        anchor = self.cell_certificate(cell)
        if anchor is None:
            raise Rejected(Reason.NOT_AUTHORISED, f"trust anchor cell {cell} is empty")
        if self.profile.check_originator_is_cell_subject and anchor.subject_id != message.originator_id:
            raise Rejected(Reason.NOT_AUTHORISED, f"originator {message.originator_id.hex().upper()} is not the "
                                                  f"subject {anchor.subject_id.hex().upper()} of {cell}")
        if not counters.is_fresh(self.state, cell.role, message.originator_counter):
            raise Rejected(Reason.REPLAY, f"counter {message.originator_counter} <= "
                                          f"{counters.stored(self.state, cell.role)} for {cell.role.name}")
        if signed:
            if message.signature is None or anchor.public_key is None:
                raise Rejected(Reason.MALFORMED, "signature missing")
            if not verify_signature(raw, message, anchor.public_key):
                raise Rejected(Reason.SIGNATURE_FAILURE, f"not signed by the {cell} trust anchor")
        if self.profile.reject_expired_trust_anchor and not anchor.valid_at(self.now()):
            raise Rejected(Reason.TRUST_ANCHOR_EXPIRED, f"{cell} expired {anchor.not_after.date()}")

    def next_alert_counter(self) -> int:
        return counters.next_alert_counter(self.state)

    def date_time(self) -> CosemDateTime:
        return CosemDateTime.from_datetime(self.now())

    def sign(self, message: Message, *, macd_for: ec.EllipticCurvePublicKey | None = None) -> bytes:
        """Seal a device message: signed, or MACed for ``macd_for`` (the peer's KA key)."""
        if macd_for is not None:
            message = message.evolve(mac_header=MacHeader(), signature=None)
            pair = self.identity.mac_key_pair(macd_for)
            if pair is None:
                raise ValueError("no key agreement private key for the MAC")
            return seal(message, mac_private_key=pair[0], mac_peer=pair[1],
                        payload_long_form_width=self.profile.payload_long_form_width)
        return seal(message, signer=self.identity.ds_key, payload_long_form_width=self.profile.payload_long_form_width)

    def save(self) -> None:
        self.store.save(self.state)

    # -- rejections and output faults ------------------------------------------------------------
    def alert_recipient(self) -> bytes | None:
        for role in ALERT_RECIPIENT_ROLES:
            for c in self.state.cells:
                if c.role == role and c.key_usage == KeyUsage.DIGITAL_SIGNATURE:
                    cert = self.cell_certificate(c)
                    if cert is not None:
                        return cert.subject_id
        return None

    def generic_alert(self, code: int) -> bytes | None:
        recipient = self.alert_recipient()
        if recipient is None:
            return None
        counter = self.next_alert_counter()
        now = self.now()
        payload = (alerts.gbz_alert(code, now) if self.device_type.alert_format == "gbz"
                   else alerts.dlms_alert(code, counter, now))
        message = Message(CraFlag.ALERT, counter, self.entity_id, recipient, alerts.GENERIC_CRITICAL_ALERT, payload)
        return self.sign(message)

    def _reject_safely(self, rejection: Rejected, snapshot: DeviceState) -> list[bytes]:
        """``_reject``; should even that fail (the disk), the state stays as it was and nothing is sent."""
        try:
            return self._reject(rejection)
        except Exception:
            self.state.restore(snapshot)
            return []

    def _reject(self, rejection: Rejected) -> list[bytes]:
        row = REJECTIONS[rejection.reason]
        self.log(row.event_code, f"command discarded: {rejection}")
        out = []
        if row.alert and self.profile.rejection_alerts:
            alert = self.generic_alert(row.event_code)
            if alert is not None:
                out.append(alert)
        self.save()
        return self._release(out, response=False)

    def _release(self, frames: list[bytes], *, response: bool) -> list[bytes]:
        profile = self.profile
        if (response and profile.drop_responses) or (not response and profile.drop_alerts):
            if frames:
                self.log(0, f"{len(frames)} frame(s) dropped by the model profile")
            return []
        if response and profile.response_delay > 0 and frames:
            release = time.monotonic() + profile.response_delay
            self._held.extend((release, f) for f in frames)
            return []
        return frames
