"""The rig's end of the processed signal of ``gbcs-rig emulate`` (``rig.transport.serve.Pump``).

A probe the device must discard is answered by silence, and silence over a link can only be
waited out: the rig waits its whole response timeout (and an alert window) for an answer
that must not come. When the far end is known to be this project's emulator (the rig spawned
``gbcs-rig emulate`` itself, or the hw_config declares the feature ``processed_signal``), the
emulator sends a processed signal after each frame, behind everything the frame produced; a
stream keeps its order, so once the signal for the last frame sent is in, nothing more can come
for it and the wait can end there.

The signal only shortens waits, and only those a step opens with ``until_processed``: it is
never evidence. A probe still passes only on a verified device alert or on delivery inferred
from liveness exchanges, exactly as over any other link; without a signal (a real meter never
sends one; a link that loses the frame) the configured timeouts apply unchanged. Signals never
reach the rig's frame log, the journal or a predicate.
"""

from __future__ import annotations

import time
from collections import deque

from rig.transport import Frame, Transport, TransportTimeout
from rig.transport.base import Predicate, ProcessedScope
from rig.transport.serve import frame_digest, parse_processed_signal

#: the hw_config feature that declares the far end a ``gbcs-rig emulate`` started with the
#: processed signal on (a test that starts the emulator itself)
PROCESSED_SIGNAL_FEATURE = "processed_signal"


def _is_signal(frame: Frame) -> bool:
    return parse_processed_signal(frame.data) is not None


class ProcessedSignalLink(ProcessedScope, Transport):
    """A link to ``gbcs-rig emulate`` that reads its processed signals and hides them.

    Every frame sent is remembered (by digest) until a signal names it; a signal names the
    oldest unsignalled frame with its digest, and the frames sent before that one are never
    going to be signalled (the link lost them). Inside ``until_processed`` a ``recv`` whose
    frame has not arrived by the time the last frame sent is signalled ends at once with
    ``TransportTimeout``, as it would at its deadline.
    """

    def __init__(self, inner: Transport):
        super().__init__()
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self._outstanding: deque[bytes] = deque()
        self.signals = 0
        inner.log.subscribe(self._log_frame)

    def _log_frame(self, frame: Frame) -> None:
        if not _is_signal(frame):
            self.log.append(frame)

    def __getattr__(self, name: str):  # the inner transport's own attributes (url, backend, ...)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- Transport --------------------------------------------------------------------------------
    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    @property
    def stats(self) -> dict[str, int]:
        return {**self.inner.stats, "processed_signals": self.signals}

    def send(self, frame: bytes) -> None:
        self._outstanding.append(frame_digest(bytes(frame)))
        self.inner.send(frame)

    @property
    def processed(self) -> bool:
        """Every frame sent has been signalled processed."""
        return not self._outstanding

    def recv(self, predicate: Predicate | None, deadline: float) -> Frame:
        def wanted(frame: Frame) -> bool:
            return not _is_signal(frame) and (predicate is None or predicate(frame))

        while True:
            if self._until_processed and self.processed:
                try:  # what the device sent for the frame is in already, if anything
                    return self.inner.recv(wanted, time.monotonic())
                except TransportTimeout:
                    raise TransportTimeout(f"{self.name}: no matching frame; the emulator signalled the last "
                                           f"frame processed") from None
            frame = self.inner.recv(lambda f: _is_signal(f) or wanted(f), deadline)
            if not _is_signal(frame):
                return frame
            self._note(frame.data)

    def _note(self, data: bytes) -> None:
        self.signals += 1
        _sequence, digest = parse_processed_signal(data)
        if digest in self._outstanding:
            while self._outstanding.popleft() != digest:
                pass  # sent before the signalled frame, never signalled: the link lost it
