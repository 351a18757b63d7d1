"""Start ``gbcs-rig emulate`` in a child process and hand back the URL to open.

The child is ``sys.executable -m rig.cli.main emulate ...`` run with this checkout first on
``PYTHONPATH``, so it imports the same ``rig`` as the parent. ``EmulatorProcess`` waits for
the READY line with a deadline, turns it into a pyserial URL (the pty path, or
``socket://127.0.0.1:PORT``) and, as a context manager, always stops the child: EOF on its
stdin first (a clean exit), then SIGTERM, then SIGKILL, each with a timeout.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

#: the checkout this module belongs to (``rig/transport/spawn.py`` -> project root)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "READY "
#: set (to ``1``) in the environment of ``gbcs-rig emulate`` to have it send a processed signal
#: after every frame (``rig.transport.serve.Pump``)
SIGNAL_PROCESSED_ENV = "GBCS_RIG_SIGNAL_PROCESSED"


def runs_emulate(argv: Sequence[str]) -> bool:
    """Whether a spawn command line is this project's ``gbcs-rig emulate`` (the console script
    or ``python -m rig.cli.main emulate``): the only far end the rig knows to be its own emulator."""
    args = [str(a) for a in argv]
    if args[:2] == ["gbcs-rig", "emulate"]:
        return True
    return len(args) >= 4 and args[1:4] == ["-m", "rig.cli.main", "emulate"]


class EmulatorError(RuntimeError):
    """The emulator did not come up (exited, printed something else, or timed out)."""


def url_from_ready_line(line: str) -> str:
    """``READY pty=/dev/pts/3`` -> ``/dev/pts/3``; ``READY tcp=127.0.0.1:4000`` -> ``socket://127.0.0.1:4000``."""
    if not line.startswith(READY_PREFIX):
        raise EmulatorError(f"expected a READY line, got {line!r}")
    kind, _, where = line[len(READY_PREFIX):].strip().partition("=")
    if kind == "pty" and where:
        return where
    if kind == "tcp" and where:
        return f"socket://{where}"
    raise EmulatorError(f"unrecognised READY line {line!r}")


class EmulatorProcess:
    """``gbcs-rig emulate`` as a child process; ``with EmulatorProcess(...) as emu: emu.url``."""

    def __init__(self, device_type: str = "ESME", *, pty: bool = True, tcp_port: int = 0, framing: str = "hdlc",
                 fleet: int = 0, pki_dir: str | Path | None = None, endpoint: str = "auto",
                 ready_timeout: float = 20.0, stop_timeout: float = 5.0, python: str = sys.executable,
                 argv: Sequence[str] | None = None, cwd: str | Path | None = None, signal_processed: bool = False):
        """``argv`` replaces the whole command (a hw_config's ``spawn``: anything that prints READY).
        ``signal_processed``: ask ``gbcs-rig emulate`` for a processed signal after every frame
        (``rig.transport.serve.Pump``); any other command ignores the request."""
        if argv is not None:
            self.argv = [str(arg) for arg in argv]
        else:
            self.argv = [python, "-m", "rig.cli.main", "emulate", "--device-type", device_type, "--framing",
                         framing, "--endpoint", endpoint]
            self.argv += ["--pty"] if pty else ["--tcp", str(tcp_port)]
            if fleet:
                self.argv += ["--fleet", str(fleet)]
            if pki_dir is not None:
                self.argv += ["--pki", str(pki_dir)]
        self.cwd = Path(cwd) if cwd is not None else PROJECT_ROOT
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.signal_processed = signal_processed
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self.ready_line: str | None = None
        self._stderr = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Start the child and wait for READY; returns the URL to open."""
        if self.process is not None:
            raise EmulatorError("already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop(SIGNAL_PROCESSED_ENV, None)
        if self.signal_processed:
            env[SIGNAL_PROCESSED_ENV] = "1"
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr)
        try:
            self.ready_line = self._read_ready_line(time.monotonic() + self.ready_timeout)
            self.url = url_from_ready_line(self.ready_line)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_ready_line(self, deadline: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        buffered = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buffered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EmulatorError(f"no READY line within {self.ready_timeout}s; stderr: {self.stderr_text()}")
                if not selector.select(timeout=min(remaining, 0.1)):
                    if self.process.poll() is not None:
                        raise EmulatorError(f"emulator exited with {self.process.returncode} before READY; "
                                            f"stderr: {self.stderr_text()}")
                    continue
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    self.process.wait(timeout=self.stop_timeout)
                    raise EmulatorError(f"emulator closed stdout before READY (exit {self.process.returncode}); "
                                        f"stderr: {self.stderr_text()}")
                buffered += chunk
        return buffered.split(b"\n", 1)[0].decode("utf-8", "replace")

    def stop(self) -> int | None:
        """Stop the child (EOF, then SIGTERM, then SIGKILL); returns its exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            try:
                if process.stdin is not None:
                    process.stdin.close()
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=self.stop_timeout)
        for stream in (process.stdin, process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        return process.returncode

    def terminate(self) -> int | None:
        """SIGTERM the child and wait (for tests of a link that goes away)."""
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.terminate()
        try:
            return process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=self.stop_timeout)

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def close(self) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
