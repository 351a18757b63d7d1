"""A small test-writing API over a rig session: ``dut.migrate()``, ``dut.send(...)``,
``dut.expect_alert("0x8F66", timeout=...)``, in the spirit of pytest-embedded's ``dut.expect()``.

Why a layer of its own: ``RigSession`` and ``rig.dcc`` are complete but low level (absolute
``time.monotonic()`` deadlines, anti-replay counters, 6.23 request ids, signing and MACs). A
manufacturer writing their own tests needs the five verbs of a migration proof, relative
timeouts, and a failure that says what was expected and lists, decoded, what arrived.

The house rules hold here too. Every ``expect_*`` passes only on positive evidence: a response
to the command that was sent, signed by the device under test (its DS key); an alert with the
expected code whose signature verifies under the device's (or its comms hub's) DS key; a DCC
alert raised by the rig's DCC side. Every check is recorded in ``session.evidence``, so the
journal and the proof report show it. When an expectation is not met:

* an ``ExpectationError`` (an ``EvidenceError``, so the test is *failed*) when the device is
  known to have got the command: in-process emulation, or it answered something else;
* ``Inconclusive`` when nothing arrived over a link that cannot confirm delivery: silence there
  shows nothing about the meter (a rig or link fault is never a meter fault).

Negative probes (``send(..., signer=...)`` with a tampered frame) then pair
``expect_no_response()`` with ``expect_alert(code)``: silence alone is never a pass.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import NoReturn

from firmware_emu.alerts import message_alert_code
from rig.crypto import Usage, verify_signature
from rig.dcc.outcomes import MigrationOutcome, ServiceOutcome, ServiceStatus
from rig.gbcs import CraFlag, GbcsDecodeError, Message, StatusCode, decode
from rig.gbcs.tables import message_code_label
from rig.harness import EvidenceError, Inconclusive, RigSession
from rig.transport import TransportTimeout, deadline_in
from rig.transport.base import Direction, Frame, summarise

__all__ = ["Dut", "ExpectationError", "Sent", "alert_code"]


class ExpectationError(EvidenceError):
    """An expectation the device did not meet; the message names what was expected and lists,
    decoded, every frame that arrived while waiting."""


def alert_code(code: int | str) -> int | str:
    """``0x8F66``, ``"0x8F66"`` and ``"8F66"`` are device alert codes (int); ``"N26"`` is a DCC
    alert code (kept as a string)."""
    if isinstance(code, int):
        return code
    text = code.strip().upper()
    if text.startswith("N") and text[1:].isdigit():
        return text
    try:
        return int(text.removeprefix("0X"), 16)
    except ValueError:
        raise ValueError(f"not an alert code: {code!r} (a device alert such as 0x8F66, or a DCC alert "
                         f"such as N26)") from None


@dataclass
class Sent:
    """The last command the test sent and where the frame log stood just before it."""

    message: Message | None  # None for a frame that does not decode (a truncated probe)
    frame: bytes
    mark: int


class Dut:
    """The device under test of one rig session (the ``dut`` fixture)."""

    def __init__(self, session: RigSession):
        self.session = session
        self.last: Sent | None = None
        #: the accepted future-dated 6.23 whose execution alert is still to come
        self.pending: ServiceOutcome | None = None
        #: the DCC's outcome of the last execution alert collected (its statuses and DCC alerts)
        self.last_execution: ServiceOutcome | None = None
        self._alert_mark = session.transport.log.mark() if session.transport is not None else 0

    # -- who and where ---------------------------------------------------------------------------

    @property
    def device_id(self) -> bytes:
        return self.session.device_id

    @property
    def device_type(self) -> str:
        return self.session.device_type

    @property
    def pki(self):
        return self.session.pki

    @property
    def evidence(self):
        return self.session.evidence

    def _timeout(self, timeout: float | None, default: float) -> float:
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, not {timeout}")
        return default if timeout is None else float(timeout)

    # -- the DCC side: migration and change of supplier -------------------------------------------

    def migrate(self) -> MigrationOutcome:
        """TCoS to ECoS migration through the rig's DCC side (CS02b mode 6, TCoS-signed, response
        verified, inventory moved to ECoS). Fails unless the device answered and the migration
        succeeded; a migration that drew no answer over a link is inconclusive."""
        mark = self.session.transport.log.mark()
        outcome = self.session.dcc.migrate(self.device_id, self.session.transport)
        if not outcome.success:
            attempts = "; ".join(f"{a.result.value}{': ' + a.detail if a.detail else ''}" for a in outcome.attempts)
            answered = any(a.response for a in outcome.attempts)
            self._unmet(f"a successful migration (CS02b mode 6) of {self._who()}; attempts: {attempts or 'none'}",
                        mark, delivered=answered or self._delivery_certain(mark))
        self.evidence.check("migration outcome", outcome.success, True)
        return outcome

    def change_supplier(self, *, execution: _dt.datetime | None = None, expect: str | None = "auto",
                        **changes) -> ServiceOutcome:
        """An SRV 6.23 from the gaining supplier (``RigSession.GAINING``) that passes every DSP
        check, signed by the CoS party the inventory says the device trusts.

        ``execution``: a future execution time (a future-dated change; then ``expect_alert
        ("0x8F66")`` collects the execution alert). ``changes`` go to
        ``rig.dcc.examples.example_request`` (``ds_certificate``, ``certification_path`` ...).
        ``expect``: the 6.23 status required (``"completed"``, ``"accepted"`` for a future-dated
        one, ``None`` for no check); ``"auto"`` picks from ``execution``.
        """
        from rig.scenarios.steps import cos_request

        if expect == "auto":
            expect = ServiceStatus.ACCEPTED.value if execution is not None else ServiceStatus.COMPLETED.value
        expect = None if expect is None else str(expect).upper()
        request = cos_request(self.session, **({"execution": execution} if execution is not None else {}), **changes)
        mark = self.session.transport.log.mark()
        outcome = self.session.dcc.submit_623(request, self.session.transport)
        if execution is not None and outcome.status is ServiceStatus.ACCEPTED:
            self.pending = outcome
        if expect is not None and outcome.status.value != expect:
            wanted = (f"6.23 status {expect} for {self._who()}, got {outcome.status.value}"
                      f"{': ' + outcome.detail if outcome.detail else ''}")
            if not outcome.sent:  # refused on the DCC side (a check, anomaly detection): the device saw nothing
                raise Inconclusive(f"expected {wanted}; nothing was sent to the device (set-up: the rig's DCC "
                                   f"side refused the request)")
            silent = outcome.status in (ServiceStatus.NO_RESPONSE, ServiceStatus.LINK_LOST)
            self._unmet(wanted, mark, delivered=not silent or self._delivery_certain(mark))
        if expect is not None:
            self.evidence.check("6.23 status", outcome.status.value, expect)
        return outcome

    # -- raw commands ------------------------------------------------------------------------------

    def change_of_supplier_command(self, *, execution: _dt.datetime | None = None) -> Message:
        """A CS02b change of supplier command (mode 7) to the device, bringing in the gaining
        supplier's three certificates, from the CoS party the device trusts, with a fresh counter:
        what ``change_supplier`` would make the DCC send, for a test that sends it itself (or
        spoils it first: ``seal`` it, change a byte, ``send`` the bytes)."""
        from rig.scenarios.steps import change_of_supplier_command

        return change_of_supplier_command(self.session, when=execution)[0]

    def seal(self, command: Message, *, signer: str | None = "auto") -> bytes:
        """``command`` signed by ``signer`` (a PKI party label; ``"auto"``: the CoS party the
        inventory says the device trusts; ``None``: unsigned) and MACed by the ACB when it has a
        MAC header, as the DSP would: the frame bytes ``send`` would put on the link."""
        from rig.scenarios.steps import cos_signer, seal_command

        return seal_command(self.session, command, cos_signer(self.session) if signer == "auto" else signer)

    def send(self, command: Message | bytes, *, signer: str | None = "auto") -> Sent:
        """Send one command to the device and return at once (``expect_*`` then waits).

        A ``Message`` is sealed as the DSP would: signed by ``signer`` (a PKI party label such as
        ``"tcos"``/``"ecos"``; ``"auto"``: the CoS party the inventory says the device trusts;
        ``None``: unsigned) and MACed by the ACB when it has a MAC header. ``bytes`` go as they
        are (a tampered probe)."""
        if isinstance(command, Message):
            frame = self.seal(command, signer=signer)
        else:
            frame = bytes(command)
        try:
            message = decode(frame)
        except GbcsDecodeError:
            message = None
        self.last = Sent(message, frame, self.session.transport.log.mark())
        self.session.transport.send(frame)
        return self.last

    def next_counter(self, party: str = "ecos") -> int:
        """A fresh anti-replay counter for commands from ``party``, committed to the inventory
        before use, so no counter is ever sent twice."""
        from rig.scenarios.steps import next_counter

        return next_counter(self.session, party)

    def expect_response(self, *, status: str | None = "SUCCESS", timeout: float | None = None) -> Message:
        """The device's response to the last ``send``, its signature verified under the device's
        DS key; with ``status`` every cell status in it must be that (``None``: no check)."""
        sent = self._require_sent("expect_response")
        if sent.message is None:
            raise ValueError("the last command does not decode: no response can be matched to it")
        seconds = self._timeout(timeout, self.session.spec.timeouts.response)
        command = sent.message

        def is_response(frame: Frame) -> bool:
            message = _decoded(frame.data)
            return (message is not None and message.cra_flag == CraFlag.RESPONSE
                    and message.originator_id == command.recipient_id
                    and message.originator_counter == command.originator_counter)

        wanted = (f"a response to 0x{command.message_code:04X} {message_code_label(command.message_code)} "
                  f"counter {command.originator_counter} "
                  f"from {self._who()} within {seconds:g} s")
        try:
            frame = self.session.transport.recv(is_response, deadline_in(seconds))
        except TransportTimeout:
            self._unmet(wanted, sent.mark, delivered=self._delivery_certain(sent.mark))
        response = decode(frame.data)
        signed = verify_signature(frame.data, response, self.session.device_public_key(Usage.DS))
        self.evidence.check("response signed by the device under test", signed, True)
        outcome = getattr(response.payload, "execution_outcome", None)
        statuses = [StatusCode(o.status).name for o in outcome.outcomes] if outcome is not None else []
        self.evidence.response_codes.extend(statuses)
        if status is not None:
            if not statuses or any(s != status for s in statuses):
                raise ExpectationError(f"expected every cell status {status} in {summarise(frame.data)}; "
                                       f"got {', '.join(statuses) or 'no cell statuses'}")
            self.evidence.check("cell statuses", statuses, [status] * len(statuses))
        return response

    def expect_no_response(self, *, within: float | None = None) -> None:
        """No response to the last ``send`` within ``within`` seconds (default: 0.3 s in process,
        else the rig's response timeout). Silence is no evidence of delivery: pair it with
        ``expect_alert`` (the device's security alert) in a negative probe."""
        from rig.scenarios.steps import silence

        sent = self._require_sent("expect_no_response")
        seconds = self._timeout(within, silence(self.session))
        try:
            self.session.transport.recv(lambda frame: False, deadline_in(seconds))
        except TransportTimeout:
            pass
        answers = [f for f in self._arrived(sent.mark) if (m := _decoded(f.data)) is not None
                   and m.cra_flag == CraFlag.RESPONSE and sent.message is not None
                   and m.originator_counter == sent.message.originator_counter]
        if answers:
            raise ExpectationError(f"expected no response to the last command within {seconds:g} s; got "
                                   + "; ".join(summarise(f.data) for f in answers))
        self.evidence.check("response", "none", "none")

    # -- alerts ----------------------------------------------------------------------------------

    def expect_alert(self, code: int | str, *, timeout: float | None = None) -> object:
        """The alert ``code`` within ``timeout`` seconds from now (default: the rig's alert timeout).

        A device alert (``"0x8F66"``, ``0x8F30``) must verify under the DS key of the device under
        test or its comms hub; it is taken from the link, or, after a future-dated
        ``change_supplier``, through the DCC (which verifies it and raises the DCC alerts that
        follow, such as N26). A DCC alert (``"N26"``) is one the rig's DCC side raised.
        Returns the alert (a ``Message``, or a ``DccAlert``)."""
        wanted = alert_code(code)
        seconds = self._timeout(timeout, self.session.spec.timeouts.alert)
        if isinstance(wanted, str):
            return self._expect_dcc_alert(wanted, seconds)
        if self.pending is not None:
            return self._expect_execution_alert(wanted, seconds)
        return self._expect_device_alert(wanted, seconds)

    def _expect_device_alert(self, wanted: int, seconds: float) -> Message:
        keys = self._alert_keys()
        mark = self.last.mark if self.last is not None else self._alert_mark

        def is_it(frame: Frame) -> bool:
            message = _decoded(frame.data)
            return (message is not None and message.cra_flag == CraFlag.ALERT
                    and message_alert_code(message) == wanted and message.originator_id in keys)

        label = f"alert 0x{wanted:04X} from {self._who()} within {seconds:g} s"
        try:
            frame = self.session.transport.recv(is_it, deadline_in(seconds))
        except TransportTimeout:
            self._unmet(label, mark, delivered=self._delivery_certain(mark))
        message = decode(frame.data)
        signed = message.signature is not None and verify_signature(frame.data, message, keys[message.originator_id])
        self.evidence.check(f"alert 0x{wanted:04X} signed by the device under test", signed, True)
        self.evidence.alert_codes.append(f"0x{wanted:04X}")
        return message

    def _expect_execution_alert(self, wanted: int, seconds: float) -> Message:
        pending, self.pending = self.pending, None
        mark = self.session.transport.log.mark()
        final = self.session.dcc.collect_execution_alert(pending, self.session.transport, deadline_in(seconds))
        label = f"execution alert 0x{wanted:04X} for 6.23 {pending.request_id} from {self._who()} within {seconds:g} s"
        if final.response is None:
            self._unmet(f"{label} ({final.status.value}{': ' + final.detail if final.detail else ''})", mark,
                        delivered=self.session.in_process)
        message = decode(final.response)
        got = message_alert_code(message)
        if got != wanted:
            raise ExpectationError(f"expected {label}; got {summarise(final.response)} (alert "
                                   f"{'none' if got is None else f'0x{got:04X}'})")
        self.evidence.check("verified execution alert", f"0x{got:04X}", f"0x{wanted:04X}")
        self.evidence.alert_codes.extend([f"0x{got:04X}", *(a.code for a in final.alerts)])
        self.evidence.response_codes.extend(s.split("=")[-1] for s in final.statuses)
        self.last_execution = final
        return message

    def _expect_dcc_alert(self, wanted: str, seconds: float):
        sink = self.session.dcc.alerts
        try:
            alert = sink.wait_for(wanted, deadline_in(seconds))
        except TransportTimeout:
            raised = [a.code for a in sink.history()]
            raise ExpectationError(f"expected DCC alert {wanted} within {seconds:g} s; the DCC side raised "
                                   f"{', '.join(raised) or 'no alerts'} in this session") from None
        self.evidence.check("DCC alert", alert.code, wanted)
        self.evidence.alert_codes.append(alert.code)
        return alert

    # -- the device clock (in-process emulated rigs) ------------------------------------------------

    def now(self) -> _dt.datetime:
        return self.session.now()

    def advance_clock(self, by: _dt.timedelta | float | None = None, *, to: _dt.datetime | None = None) -> None:
        """Move the emulated device's clock forward ``by`` (seconds or a timedelta) or ``to`` a time
        (in-process emulated rigs; ``NotEmulated`` on hardware)."""
        if (by is None) == (to is None):
            raise ValueError("give exactly one of by= and to=")
        if to is None:
            to = self.session.now() + (by if isinstance(by, _dt.timedelta) else _dt.timedelta(seconds=float(by)))
        self.session.advance_clock(to)

    # -- helpers ---------------------------------------------------------------------------------

    def _who(self) -> str:
        return f"{self.device_type} {self.device_id.hex().upper()}"

    def _require_sent(self, what: str) -> Sent:
        if self.last is None:
            raise RuntimeError(f"{what}: nothing was sent yet (call dut.send(...) first)")
        return self.last

    def _alert_keys(self) -> dict[bytes, object]:
        keys = {self.device_id: self.session.device_public_key(Usage.DS)}
        hub = self.session.hub.chf if self.session.hub is not None else None
        if hub is not None and hub.entity_id != self.device_id:
            keys[hub.entity_id] = hub.identity.ds_key.public_key()
        return keys

    def _arrived(self, mark: int) -> list[Frame]:
        return [f for f in self.session.transport.log.since(mark) if f.direction is Direction.RX]

    def _delivery_certain(self, mark: int) -> bool:
        """The device got what was sent: in-process links hand each frame to the model, and a
        frame from the device since then shows the link carried traffic both ways."""
        return self.session.in_process or any(
            (m := _decoded(f.data)) is not None and m.originator_id == self.device_id for f in self._arrived(mark))

    def _unmet(self, wanted: str, mark: int, *, delivered: bool) -> NoReturn:
        """Raise for an expectation not met, listing every frame that arrived since ``mark``."""
        frames = self._arrived(mark)
        listing = "; ".join(summarise(f.data) + _alert_suffix(f.data) for f in frames) or "nothing"
        message = f"expected {wanted}; received since: {listing}"
        if delivered:
            raise ExpectationError(message)
        raise Inconclusive(f"{message} (the link shows no sign of delivery: not the meter's fault)")


def _decoded(data: bytes) -> Message | None:
    try:
        return decode(data)
    except GbcsDecodeError:
        return None


def _alert_suffix(data: bytes) -> str:
    message = _decoded(data)
    code = message_alert_code(message) if message is not None and message.cra_flag == CraFlag.ALERT else None
    return f" (alert 0x{code:04X})" if code is not None else ""
