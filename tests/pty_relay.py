"""A byte relay between the rig and an emulated meter, over two real pseudo-terminals.

The rig opens the relay's pty; the relay forwards to the emulator's pty (``gbcs-rig emulate
--pty``) and back. While ``dropping`` is set, bytes from the rig are thrown away (or, with
``corrupt``, every byte is flipped): a link that loses what the rig sends, as a faulty adapter or
cable does. Tests set it around the negative probes only.
"""

from __future__ import annotations

import os
import select
import threading
import tty


def _raw_fd(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


class PtyRelay:
    def __init__(self, device_url: str):
        self.device = _raw_fd(device_url)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.url = os.ttyname(slave)
        self._slave = slave  # kept open so the master never sees a hang-up between rig opens
        self.dropping = threading.Event()
        self.dropped = 0
        self.forwarded = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-relay", daemon=True)

    def __enter__(self) -> PtyRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in (self.device, self.master, self._slave):
            os.close(fd)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master, self.device], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, OSError):
                    continue
                if fd == self.master:
                    if self.dropping.is_set():
                        self.dropped += len(data)
                        continue
                    self.forwarded += len(data)
                    os.write(self.device, data)
                else:
                    os.write(self.master, data)
