"""A rig session: one device under test, its link, its credentials and the evidence collected.

labgrid's split applies: ``RigSpec`` (from hw_configs) describes, the session acts. For an
emulated rig the session provisions the device (behind an emulated comms hub, as in the field)
on the rig's PKI and drives its clock; for hardware it opens the configured transport and can
only observe. Scenarios talk to the device through ``exchange`` and ``wait_for_alert`` and
record what they saw in ``evidence``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from firmware_emu import CommsHub, EmulatedDevice, ManualClock
from rig import pki as pki_module
from rig.config.model import RigSpec, TransportKind
from rig.crypto import Usage
from rig.dcc import Dcc, DccConfig, DeviceRecord, Inventory, RetryPolicy
from rig.dcc.adt import AdtRejected
from rig.dcc.examples import EXAMPLE_MPXN, example_adt
from rig.dcc.ledger import ledger_for
from rig.dcc.tables import CredentialStatus
from rig.gbcs import CraFlag, GbcsDecodeError, Message, decode
from rig.provision import create_device
from rig.transport import Frame, Transport, TransportTimeout, deadline_in
from rig.transport.emulated import EmulatedTransport

from . import transports
from .credentials import pki_for
from .evidence import Evidence
from .processed import PROCESSED_SIGNAL_FEATURE, ProcessedSignalLink

#: where an emulated device's clock starts (its certificates are valid then)
EMULATED_EPOCH = _dt.datetime(2026, 6, 1, 9, 0, tzinfo=_dt.UTC)


class NotEmulated(RuntimeError):
    """An emulated-only action (reset, clock) was asked of a hardware rig."""


@dataclass
class Exchange:
    """One command and what came back for it."""

    command: Message | None  # None for a deliberately undecodable probe
    command_frame: bytes
    response: Message | None = None
    response_frame: bytes | None = None
    alerts: list[Message] = field(default_factory=list)
    latency: float | None = None
    #: the received bytes of each alert in ``alerts`` (to verify its signature)
    alert_frames: list[bytes] = field(default_factory=list)


class RigSession:
    """Everything a scenario needs to act on one rig."""

    def __init__(self, spec: RigSpec, *, run_dir: str | Path, pki: pki_module.Pki | None = None):
        self.spec = spec
        self.run_dir = Path(run_dir)
        self.pki = pki or pki_for(spec)
        self.evidence = Evidence()
        self.transport: Transport | None = None
        self.clock: ManualClock | None = None
        self.device: EmulatedDevice | None = None
        self.hub: CommsHub | None = None
        self._stop: Callable[[], None] | None = None
        self._dcc: Dcc | None = None
        #: the transport as opened (port and udev properties, spawned emulator URL), for the report
        self.transport_resolved: dict | None = None
        #: the last alert counter seen from each originator, so every alert's is checked to increase
        self.alert_counters: dict[bytes, int] = {}
        self._factory: tuple[str, str] = ("tcos", "default")
        self.device_id = bytes.fromhex(spec.device_id) if spec.device_id else self._default_device_id()

    # -- identity ---------------------------------------------------------------------------------
    def _default_device_id(self) -> bytes:
        for kind, entity in self.pki.devices.values():
            if kind == str(self.spec.device):
                return entity
        raise LookupError(f"rig {self.spec.id}: no device_id configured and none of type {self.spec.device} in the PKI")

    @property
    def rig_id(self) -> str:
        return self.spec.id

    @property
    def device_type(self) -> str:
        return str(self.spec.device)

    @property
    def emulated(self) -> bool:
        return self.spec.emulated

    @property
    def in_process(self) -> bool:
        """The device model runs in this process (its state and clock can be set directly)."""
        return self.device is not None

    @property
    def knows_emulator(self) -> bool:
        """The far end of this serial link is known to be ``gbcs-rig emulate`` with its processed
        signal on: the rig spawned it (``rig.transport.spawn`` asks for the signal), or the
        hw_config declares it with the feature ``processed_signal`` (also behind a labgrid place
        whose serial port a test serves with the emulator). Never true of a lab link."""
        from rig.transport.spawn import runs_emulate

        transport = self.spec.transport
        if transport.kind is TransportKind.LABGRID:
            return PROCESSED_SIGNAL_FEATURE in self.spec.features
        if transport.kind is not TransportKind.SERIAL:
            return False
        spawn = getattr(transport, "spawn", None)
        return (spawn is not None and runs_emulate(spawn.argv)) or PROCESSED_SIGNAL_FEATURE in self.spec.features

    @property
    def signals_processed(self) -> bool:
        """Waits can end at the emulator's processed signal (``rig.harness.processed``)."""
        return isinstance(self.transport, ProcessedSignalLink)

    @contextlib.contextmanager
    def until_processed(self) -> Iterator[None]:
        """Inside: a wait for a frame that has not come ends once the last frame sent is known
        processed (nothing more can come for it): at the emulator's processed signal over a
        link to it, or at once in-process, where ``send`` returns after the device processed
        the frame and queued all it produced (while it holds nothing back). On any other link
        waits run to their deadlines as configured."""
        if isinstance(self.transport, ProcessedSignalLink) or type(self.transport) is EmulatedTransport:
            with self.transport.until_processed():
                yield
        else:
            yield

    def device_public_key(self, usage: Usage = Usage.DS):
        if self.device is not None:
            key = self.device.identity.ds_key if usage is Usage.DS else self.device.identity.ka_key
            return key.public_key()
        credential = self.pki.credentials.get((self.device_id, usage))
        if credential is None:
            raise LookupError(f"no {usage.value} certificate for device {self.device_id.hex().upper()}")
        return credential.certificate.public_key()

    # -- life cycle -------------------------------------------------------------------------------
    def open(self) -> RigSession:
        self.transport, self._stop = transports.open_transport(self)
        if self.knows_emulator:
            self.transport = ProcessedSignalLink(self.transport)
        self.transport.open()
        return self

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self._stop is not None:
            self._stop()
            self._stop = None
        if self._dcc is not None:
            self._dcc.inventory.close()
            self._dcc = None

    # -- the DCC side -----------------------------------------------------------------------------
    #: the supplier whose certificates a factory-fresh device holds, and the one a 6.23 brings in
    INCUMBENT, GAINING = "supplier_a", "supplier_b"

    @property
    def dcc(self) -> Dcc:
        """The DCC / ECoS side for this rig: an inventory kept in the run folder (so a resumed run
        never reuses a counter), the rig's PKI, the device registered, the gaining supplier's ADT."""
        if self._dcc is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._self_check()
            dcc = self._make_dcc(Inventory.open(self.run_dir / "inventory.sqlite",
                                                ledger=ledger_for(self.spec, source=str(self.run_dir))))
            try:
                dcc.submit_adt(example_adt(self.pki, supplier=self.GAINING))
            except AdtRejected:
                pass  # already on file from an earlier (resumed) run
            self._dcc = dcc
            self.register()
        return self._dcc

    def answer_timeout(self) -> float:
        """How long to wait for an answer: the rig's response timeout, except for an in-process
        device that answers inside ``send`` (no response delay in its profile), where an answer
        that is not there at once never comes, and waiting longer only slows a failing run."""
        if self.device is not None and not getattr(self.device.profile, "response_delay", 0.0):
            if type(self.transport) is EmulatedTransport:  # the answer is queued inside ``send``
                return min(self.spec.timeouts.response, 0.05)
            return min(self.spec.timeouts.response, 0.5)  # a radio in between (a sleepy GSME polls)
        return self.spec.timeouts.response

    def _make_dcc(self, inventory: Inventory, retry: RetryPolicy | None = None) -> Dcc:
        timeout = self.answer_timeout()
        retry = retry or RetryPolicy(attempts=2, interval_s=0.0 if self.emulated else 5.0, response_timeout_s=timeout)
        dcc = Dcc.from_pki(self.pki, inventory, config=DccConfig(response_timeout_s=timeout, retry=retry))
        for usage in (Usage.DS, Usage.KA):
            dcc.keystore.add(self.device_id, usage, private_key=None, certificate=self._device_certificate(usage))
        return dcc

    def _self_check(self) -> None:
        """The rig's DCC must refuse an answer that does not verify (``selfcheck``): on a scratch
        inventory, against an in-memory device of this rig's type and identity. A device type
        without a transitionalCoS cell has no migration to check it with."""
        from .selfcheck import check_dcc_verifies_answers

        if self.device_type == "CHF" or (self.device is None and not self.emulated):
            return  # hardware: the device's own private keys are not the rig's to emulate it with
        path = self.run_dir / "self-check.sqlite"
        path.unlink(missing_ok=True)
        inventory = Inventory.open(path)
        try:
            dcc = self._make_dcc(inventory, RetryPolicy(attempts=1, interval_s=0.0, response_timeout_s=0.2))
            hub = self.hub.chf.entity_id if self.hub is not None else None
            dcc.inventory.add_device(DeviceRecord(device_id=self.device_id, device_type=self.device_type, model="",
                                                  firmware="", mpxn=EXAMPLE_MPXN,
                                                  supplier_id=self.pki.entity(self.INCUMBENT), supplier_mpid="SUPB",
                                                  comms_hub_id=hub, credential_status=CredentialStatus.TCOS),
                                     replace=True)
            check_dcc_verifies_answers(dcc, self.device_type, self.device_id, self.pki)
        finally:
            inventory.close()
            path.unlink(missing_ok=True)

    def _device_certificate(self, usage: Usage):
        credential = self.pki.credentials.get((self.device_id, usage))
        if credential is None:
            raise LookupError(f"no {usage.value} certificate for device {self.device_id.hex().upper()}")
        return credential.certificate

    def register(self, status: CredentialStatus = CredentialStatus.TCOS) -> DeviceRecord:
        """(Re)register the device in the inventory as a factory-fresh device of this rig."""
        hub = self.hub.chf.entity_id if self.hub is not None else None
        record = DeviceRecord(device_id=self.device_id, device_type=self.device_type,
                              model=self.spec.model.model or "", firmware=self.spec.model.firmware or "",
                              mpxn=EXAMPLE_MPXN, supplier_id=self.pki.entity(self.INCUMBENT),
                              supplier_mpid="SUPB", comms_hub_id=hub, credential_status=status)
        return self.dcc.inventory.add_device(record, replace=True)

    @property
    def state_dir(self) -> Path:
        """Where in-process emulated devices keep their state (one folder per device), as
        ``gbcs-rig emulate`` does: every change is on disk before a frame reports it, so a power
        cut (``power_cycle``) restarts the device from what it persisted."""
        return self.run_dir / "device-state"

    def provision(self, *, cos_party: str = "tcos", profile: str | None = None, fresh: bool = True) -> None:
        """(In-process emulated rigs) a factory-fresh device behind a comms hub, persisted in
        ``state_dir``; ``fresh=False`` restarts the devices from the state they saved there."""
        profile = profile or getattr(self.spec.transport, "profile", None) or "default"
        self.clock = self.clock or ManualClock(EMULATED_EPOCH)
        if fresh:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self._factory = (cos_party, profile)
        else:
            cos_party, profile = self._factory
        kind = self.device_type
        hub_profile = profile if kind in ("CHF", "GPF") else "default"
        chf = create_device("CHF", pki=self.pki, entity_id=self.device_id if kind == "CHF" else None, clock=self.clock,
                            profile=hub_profile, state_dir=self.state_dir / "chf")
        gpf = create_device("GPF", pki=self.pki, clock=self.clock, profile=hub_profile,
                            state_dir=self.state_dir / "gpf")
        self.hub = CommsHub(chf, gpf)
        if kind in ("CHF", "GPF"):
            self.device = chf if kind == "CHF" else gpf
            if kind == "GPF" and self.device.entity_id != self.device_id:
                raise LookupError(f"rig {self.rig_id}: GPF id {self.device_id.hex()} is not the PKI's GPF")
        else:
            self.device = create_device(kind, pki=self.pki, entity_id=self.device_id, profile=profile,
                                        clock=self.clock, cos_party=cos_party, state_dir=self.state_dir / "device")
            if fresh:
                self.hub.join(self.device)
            else:  # the hub's device log is its own persisted state; the route is the HAN's
                self.hub.route(self.device)

    def reset(self, *, cos_party: str = "tcos", profile: str | None = None) -> None:
        """Back to a factory-fresh device (in-process emulated rigs only)."""
        if not self.in_process:
            raise NotEmulated(f"rig {self.rig_id} cannot be reset: the device is not emulated in this process")
        self.provision(cos_party=cos_party, profile=profile)
        self.alert_counters.clear()
        transports.rebind(self)
        if self._dcc is not None:
            self.register(CredentialStatus.ECOS if cos_party == "ecos" else CredentialStatus.TCOS)

    def power_cycle(self) -> None:
        """(In-process emulated rigs) power off and on: every device restarts from the state it
        persisted; what it held only in memory (frames held back, a half-done step) is gone.
        A device that cannot restart from its store raises here."""
        if not self.in_process:
            raise NotEmulated(f"rig {self.rig_id} cannot be power cycled: the device is not emulated in this process")
        self.provision(fresh=False)
        transports.rebind(self)

    # -- talking to the device --------------------------------------------------------------------
    def _is_response_to(self, command: Message) -> Callable[[Frame], bool]:
        def match(frame: Frame) -> bool:
            try:
                message = decode(frame.data)
            except GbcsDecodeError:
                return False
            return (message.cra_flag == CraFlag.RESPONSE and message.originator_id == command.recipient_id
                    and message.originator_counter == command.originator_counter
                    and message.message_code == command.message_code)
        return match

    def exchange(self, frame: bytes, *, timeout: float | None = None, expect_response: bool = True,
                 alert_window: float = 0.0) -> Exchange:
        """Send ``frame``; wait for its response (until the rig's response timeout) and collect
        the alerts that arrive with it or within ``alert_window`` seconds."""
        assert self.transport is not None, "session not open"
        try:
            command = decode(frame)
        except GbcsDecodeError:
            command = None  # a malformed probe: nothing can answer it, only silence is expected
        result = Exchange(command, frame)
        start = time.monotonic()
        self.transport.send(frame)
        if command is None:
            self._wait_quiet(timeout if timeout is not None else self.answer_timeout())
        elif expect_response:
            try:
                received = self.transport.recv(self._is_response_to(command),
                                               deadline_in(timeout if timeout is not None else self.answer_timeout()))
                result.response_frame = received.data
                result.response = decode(received.data)
                result.latency = time.monotonic() - start
            except TransportTimeout:
                pass
        result.alert_frames = self.collect_alert_frames(alert_window)
        result.alerts = [decode(data) for data in result.alert_frames]
        return result

    def _wait_quiet(self, seconds: float) -> None:
        """Let ``seconds`` pass while the link is serviced (so a wrongly sent answer is received)."""
        try:
            self.transport.recv(lambda frame: False, deadline_in(seconds))
        except TransportTimeout:
            pass

    def collect_alerts(self, window: float = 0.0) -> list[Message]:
        """Alerts already received (and any arriving within ``window`` seconds)."""
        return [decode(data) for data in self.collect_alert_frames(window)]

    def collect_alert_frames(self, window: float = 0.0) -> list[bytes]:
        """Alert frames already received (and any arriving within ``window`` seconds)."""
        assert self.transport is not None
        frames: list[bytes] = []
        deadline = deadline_in(window)
        while True:
            try:
                frame = self.transport.recv(_is_alert, deadline)
            except TransportTimeout:
                return frames
            frames.append(frame.data)

    def wait_for_alert(self, predicate: Callable[[Message], bool], timeout: float | None = None) -> Message:
        assert self.transport is not None

        def match(frame: Frame) -> bool:
            return _is_alert(frame) and predicate(decode(frame.data))

        frame = self.transport.recv(match, deadline_in(timeout if timeout is not None else self.spec.timeouts.alert))
        return decode(frame.data)

    def advance_clock(self, to: _dt.datetime) -> None:
        if self.clock is None:
            raise NotEmulated(f"rig {self.rig_id}: the device clock is not under the rig's control")
        self.clock.set(to)

    def now(self) -> _dt.datetime:
        return self.clock.now() if self.clock is not None else _dt.datetime.now(_dt.UTC)


def _is_alert(frame: Frame) -> bool:
    try:
        return decode(frame.data).cra_flag == CraFlag.ALERT
    except GbcsDecodeError:
        return False
