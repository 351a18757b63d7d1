"""A meter on a labgrid place: acquire the place, open its serial port over RFC 2217, release it.

labgrid (the optional ``labgrid`` extra, imported only here and only when a rig names a labgrid
transport) is the lab's coordinator: it knows every exporter (the hosts the meters are wired to)
and every place (one meter and its adapters), and its place lock is what keeps two engineers, or
an engineer and a CI job, off one meter whatever host they run on. So for such a rig the place
lock *is* the lease (``rig.pytest_plugin.leases`` takes no local lock for it); the counters stay
in the host's ledger, keyed by the meter's EUI-64.

How the place is used, through ``labgrid.remote.client.ClientSession`` (labgrid 26: gRPC on
asyncio). The rig is synchronous, so every coordinator call runs in a short-lived session on an
event loop of its own thread, as each ``labgrid-client`` command does:

1. the place is looked up; if it is acquired by anyone (another host, another user, or this user
   in another process) or reserved for someone else, the rig sends nothing and either fails at
   once naming the place and its holder (``PlaceBusy``) or, with ``wait`` > 0, queues for it with
   a labgrid reservation (filter ``name=<place>``) and polls it until it is allocated or the wait
   is over;
2. ``AcquirePlace`` (the exporter then starts ser2net for the place's serial port);
3. the place's NetworkSerialPort (host and port the exporter publishes) becomes
   ``rfc2217://host:port``, opened by ``SerialTransport`` with the rig's line settings and framing;
4. ``release`` (from ``close``, a failure on the way, Ctrl-C, SIGTERM or interpreter exit)
   releases the place and cancels the reservation.

A run killed with SIGKILL cannot release: the place stays acquired by ``host/user`` until
``labgrid-client -p PLACE release`` (labgrid keeps a place acquired across client restarts,
which is also what lets ``labgrid-client acquire`` hold one between commands).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import difflib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .serial_link import SerialTransport

INSTALL_HINT = "pip install 'gbcs-rig[labgrid]'"
#: how often a waiting reservation is polled (polling also keeps it from expiring)
RESERVATION_POLL = 0.25
#: the longest a single coordinator session may take (connect, a call, a sync)
CALL_TIMEOUT = 30.0

#: pyserial's RFC 2217 client waits for the answer to every SET-CONTROL (DTR, RTS, flow control);
#: ser2net does not answer when the port's modem lines cannot be set (a pty, some USB adapters),
#: and opening would then fail. The rig drives no modem lines, so it does not wait for them.
RFC2217_OPTIONS = "?ign_set_control"

T = TypeVar("T")


class LabgridError(RuntimeError):
    """The labgrid side of a rig failed (coordinator, place, resource): a rig fault, never the meter's."""


class LabgridMissing(LabgridError):
    """A rig names a labgrid transport and the labgrid extra is not installed."""


class PlaceBusy(LabgridError):
    """The place is acquired (or reserved) by someone else: nothing was sent."""


def _client():
    """``labgrid.remote.client`` and the coordinator's protobuf messages, or ``LabgridMissing``."""
    try:
        from labgrid.remote import client
        from labgrid.remote.generated import labgrid_coordinator_pb2
    except ImportError as err:
        raise LabgridMissing(f"kind = 'labgrid' needs the labgrid extra ({err}): {INSTALL_HINT}") from None
    return client, labgrid_coordinator_pb2


def _rpc_details(err: BaseException) -> str:
    details = getattr(err, "details", None)
    return str(details() if callable(details) else err)


def _in_session(coordinator: str, work: Callable[[Any, asyncio.AbstractEventLoop, Any], T],
                timeout: float = CALL_TIMEOUT, cancel: threading.Event | None = None) -> T:
    """Run ``work(session, loop, pb2)`` in a fresh labgrid client session on a thread of its own.

    The thread is what keeps labgrid's event loop away from the caller's thread (which may be
    pytest's, or bellows' loop's). On KeyboardInterrupt in the caller, ``cancel`` is set and the
    worker gets a moment to finish its step (so whatever it acquired is known), then the
    interrupt goes on.
    """
    client, pb2 = _client()
    outcome: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        session = None
        try:
            try:
                session = client.start_session(coordinator, extra={"args": argparse.Namespace()}, loop=loop)
            except Exception as err:
                raise LabgridError(f"labgrid coordinator {coordinator} unreachable: {_rpc_details(err)}") from None
            outcome["value"] = work(session, loop, pb2)
        except (LabgridError, KeyboardInterrupt) as err:
            outcome["error"] = err
        except Exception as err:  # a gRPC error, or labgrid's own: still the labgrid side, one line
            outcome["error"] = LabgridError(f"labgrid coordinator {coordinator}: {type(err).__name__}: "
                                            f"{_rpc_details(err)}")
        except BaseException as err:
            outcome["error"] = err
        finally:
            if session is not None:
                try:
                    loop.run_until_complete(session.stop())
                    loop.run_until_complete(session.close())
                except Exception:
                    pass
            loop.close()

    worker = threading.Thread(target=run, name=f"labgrid:{coordinator}", daemon=True)
    worker.start()
    try:
        worker.join(timeout)
    except KeyboardInterrupt:
        if cancel is not None:
            cancel.set()
        worker.join(5.0)
        raise
    if worker.is_alive():
        if cancel is not None:
            cancel.set()
        raise LabgridError(f"labgrid coordinator {coordinator}: no answer within {timeout:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@dataclass
class Place:
    """One labgrid place this process uses: acquire, find its serial port, release."""

    name: str
    coordinator: str
    #: the NetworkSerialPort to use when the place has several
    resource: str | None = None
    #: seconds to wait for a busy place through a reservation (0: fail at once)
    wait: float = 0.0
    #: how long the exporter may take to publish the port after the place is acquired
    port_timeout: float = 10.0
    acquired: bool = False
    token: str | None = None
    #: host/user labgrid names this process by (what ``labgrid-client who`` shows)
    holder: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __str__(self) -> str:
        return f"labgrid place {self.name!r} (coordinator {self.coordinator})"

    # -- acquiring -------------------------------------------------------------------------------
    def acquire(self) -> dict[str, Any]:
        """Acquire the place and return its serial port's description (host, port, url, ...)."""
        cancel = threading.Event()
        deadline = time.monotonic() + self.wait
        try:
            return _in_session(self.coordinator, lambda s, loop, pb2: self._acquire(s, loop, pb2, deadline, cancel),
                               timeout=self.wait + self.port_timeout + CALL_TIMEOUT, cancel=cancel)
        except BaseException:
            self.release()  # a failure (or Ctrl-C) after the place was taken must not keep it
            raise

    def _acquire(self, session, loop, pb2, deadline: float, cancel: threading.Event) -> dict[str, Any]:
        import grpc

        place = self._lookup(session)
        self.holder = f"{session.gethostname()}/{session.getuser()}"
        busy = self._busy(session, loop, pb2, place)
        if busy and self.wait <= 0:
            raise PlaceBusy(f"{self} is {busy}; nothing was sent. Wait for it to be released, or set wait = "
                            f"SECONDS in the rig's transport to queue for it with a labgrid reservation")
        if busy:
            self._wait_for_reservation(session, loop, pb2, deadline, cancel, busy)
        if cancel.is_set():
            raise KeyboardInterrupt
        try:
            loop.run_until_complete(session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=self.name)))
        except grpc.aio.AioRpcError as err:
            busy = self._busy(session, loop, pb2, place) or "not available"
            raise PlaceBusy(f"{self} could not be acquired ({_rpc_details(err)}): {busy}; nothing was sent") from None
        self.acquired = True
        loop.run_until_complete(session.sync_with_coordinator())
        return self._serial_port(session, loop, place)

    def _lookup(self, session):
        place = session.places.get(self.name)
        if place is None:
            names = sorted(session.places)
            close = difflib.get_close_matches(self.name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise LabgridError(f"{self} does not exist{hint}; places: {', '.join(names) or 'none'} "
                               f"(labgrid-client -x {self.coordinator} places)")
        return place

    def _reservation_owner(self, session, loop, pb2, token: str) -> str | None:
        response = loop.run_until_complete(session.stub.GetReservations(pb2.GetReservationsRequest()))
        return next((r.owner for r in response.reservations if r.token == token), None)

    def _busy(self, session, loop, pb2, place) -> str | None:
        """Why the place cannot be acquired now (its holder), or None."""
        if place.acquired:
            return f"acquired by {place.acquired}"
        if place.reservation and place.reservation != self.token:
            return f"reserved for {self._reservation_owner(session, loop, pb2, place.reservation) or 'another user'}"
        return None

    def _wait_for_reservation(self, session, loop, pb2, deadline: float, cancel: threading.Event, busy: str) -> None:
        """Queue for the place with a reservation until it is allocated to us (then it is idle)."""
        from labgrid.remote.common import Reservation, ReservationState

        request = pb2.CreateReservationRequest(
            filters={"main": pb2.Reservation.Filter(filter={"name": self.name})}, prio=0.0)
        response = loop.run_until_complete(session.stub.CreateReservation(request))
        self.token = response.reservation.token
        while True:
            poll = loop.run_until_complete(session.stub.PollReservation(pb2.PollReservationRequest(token=self.token)))
            state = Reservation.from_pb2(poll.reservation).state
            if state is not ReservationState.waiting:
                if state in (ReservationState.allocated, ReservationState.acquired):
                    loop.run_until_complete(session.sync_with_coordinator())
                    return
                raise LabgridError(f"{self}: the reservation {self.token} became {state.name}")
            if cancel.is_set():
                raise KeyboardInterrupt
            if time.monotonic() >= deadline:
                place = session.places.get(self.name)
                still = (self._busy(session, loop, pb2, place) if place is not None else None) or busy
                raise PlaceBusy(f"{self} is still {still} after waiting {self.wait:g}s (reservation "
                                f"{self.token}); nothing was sent")
            loop.run_until_complete(asyncio.sleep(RESERVATION_POLL))

    def _network_serial_ports(self, session, place) -> dict[str, tuple[str, Any]]:
        """The place's acquired NetworkSerialPorts: name -> (exporter/group/cls/name, entry)."""
        ports = {}
        for path in place.acquired_resources:
            exporter, group, cls, resource = path
            if cls != "NetworkSerialPort":
                continue
            match = place.getmatch(tuple(path))
            name = (match.rename if match is not None else None) or resource
            entry = session.resources.get(exporter, {}).get(group, {}).get(resource)
            if entry is None:
                raise LabgridError(f"{self}: its resource {'/'.join(path)} is gone (exporter {exporter} disconnected?)")
            ports[name] = ("/".join(path), entry)
        return ports

    def _serial_port(self, session, loop, place) -> dict[str, Any]:
        """The place's NetworkSerialPort once the exporter publishes its port (ser2net started)."""
        deadline = time.monotonic() + self.port_timeout
        while True:
            ports = self._network_serial_ports(session, place)
            if self.resource is not None:
                if self.resource not in ports:
                    raise LabgridError(f"{self} has no NetworkSerialPort named {self.resource!r} "
                                       f"(it has: {', '.join(sorted(ports)) or 'none'})")
                ports = {self.resource: ports[self.resource]}
            if not ports:
                raise LabgridError(f"{self} has no NetworkSerialPort: add-match the exporter's serial port "
                                   f"(labgrid-client -p {self.name} add-match EXPORTER/GROUP/NetworkSerialPort)")
            if len(ports) > 1:
                raise LabgridError(f"{self} has {len(ports)} NetworkSerialPorts ({', '.join(sorted(ports))}): "
                                   "name one with resource = \"...\" in the rig's transport")
            (name, (path, entry)), = ports.items()
            params = entry.params
            if entry.extra.get("proxy_required"):
                raise LabgridError(f"{self}: the exporter of {path} is isolated (its port needs an SSH proxy), "
                                   "which gbcs-rig does not set up; reach the exporter host directly")
            if entry.avail and params.get("host") and params.get("port"):
                host, number = str(params["host"]), int(params["port"])
                netloc = f"[{host}]" if ":" in host else host
                endpoint = f"rfc2217://{netloc}:{number}"
                return {"resource": name, "resource_path": path, "host": host, "port": number,
                        "speed": params.get("speed"), "endpoint": endpoint, "url": endpoint + RFC2217_OPTIONS}
            if time.monotonic() >= deadline:
                raise LabgridError(f"{self}: the exporter did not publish a port for {path} within "
                                   f"{self.port_timeout:g}s (available: {entry.avail}; is ser2net installed there?)")
            loop.run_until_complete(asyncio.sleep(0.05))

    # -- releasing -------------------------------------------------------------------------------
    def release(self) -> str | None:
        """Release the place (and cancel the reservation); never raises. A problem, or None."""
        with self._lock:
            if not self.acquired and self.token is None:
                return None
            try:
                _in_session(self.coordinator, self._release)
            except BaseException as err:  # Ctrl-C twice, coordinator gone: say how to finish it by hand
                return (f"{self} was not released ({err}); release it with "
                        f"labgrid-client -x {self.coordinator} -p {self.name} release")
            self.acquired, self.token = False, None
            return None

    def _release(self, session, loop, pb2) -> None:
        import grpc

        if self.acquired:
            place = session.places.get(self.name)
            if place is not None and place.acquired:  # else: already released, or the place deleted
                loop.run_until_complete(session.stub.ReleasePlace(pb2.ReleasePlaceRequest(placename=self.name)))
        if self.token is not None:
            try:
                loop.run_until_complete(session.stub.CancelReservation(pb2.CancelReservationRequest(token=self.token)))
            except grpc.aio.AioRpcError:
                pass  # expired or already gone
        loop.run_until_complete(session.sync_with_coordinator())


# -- held places: released at exit and on SIGTERM ---------------------------------------------------

_held: list[Place] = []
_held_lock = threading.Lock()
_previous_sigterm: Any = None


def _sigterm(signum, frame) -> None:
    """SIGTERM ends the run as Ctrl-C does, so the run's clean-up releases the place."""
    raise KeyboardInterrupt(f"signal {signum}")


def _hold(place: Place) -> None:
    global _previous_sigterm
    with _held_lock:
        _held.append(place)
        if len(_held) == 1 and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                _previous_sigterm = signal.signal(signal.SIGTERM, _sigterm)


def _unhold(place: Place) -> None:
    global _previous_sigterm
    with _held_lock:
        if place in _held:
            _held.remove(place)
        if not _held and _previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _previous_sigterm)
            _previous_sigterm = None


@atexit.register
def _release_all() -> None:
    for place in list(_held):
        place.release()


# -- the transport -----------------------------------------------------------------------------------

class LabgridSerialTransport(SerialTransport):
    """``SerialTransport`` on the place's ``rfc2217://`` port; closing it releases the place."""

    def __init__(self, place: Place, url: str, **kwargs: Any):
        super().__init__(url, **kwargs)
        self.place = place

    def close(self) -> None:
        try:
            super().close()
        finally:
            problem = self.place.release()
            _unhold(self.place)
            if problem:
                import sys

                print(f"gbcs-rig: {problem}", file=sys.stderr)


def open_labgrid(spec, *, name: str, framing: Any, join: float) -> tuple[LabgridSerialTransport, dict[str, Any]]:
    """Acquire ``spec.place``, open its serial port; the open transport and what it resolved to.

    The port is opened here (``open`` again is a no-op), so that a port that does not open
    releases the place before the error goes on. ``join`` bounds how long the exporter may take
    to publish the port and the port to open, as it bounds a local adapter's appearing.
    """
    _client()  # a missing extra is reported before anything else
    place = Place(spec.place, spec.coordinator, resource=spec.resource, wait=spec.wait, port_timeout=join)
    _hold(place)
    try:
        port = place.acquire()
        resolved = {"kind": "labgrid", "place": spec.place, "coordinator": spec.coordinator,
                    "acquired_as": place.holder, **({"reservation": place.token} if place.token else {}),
                    **port}
        transport = LabgridSerialTransport(place, port["url"], framing=framing, name=name, open_timeout=join,
                                           reopen_timeout=join, **spec.serial.pyserial_kwargs())
        transport.open()
    except BaseException:
        place.release()
        _unhold(place)
        raise
    return transport, resolved
