"""``gbcs-rig`` as real processes without a fresh interpreter per command line: a zygote.

A test that wants to see what a person sees on a terminal runs the command as a process of its
own: its own working folder, stdin, stdout and stderr file descriptors, and exit status. Starting
an interpreter and importing the codec, emulator, cryptography and pytest for each of seventy
bad command lines cost most of a CPU-minute, so :class:`Zygote` starts one interpreter that
imports all of that once (``PRELOAD``) and forks one child per command line. The child is a new
process in every way the tests look at: it changes to the case's folder, reads stdin from
``/dev/null``, writes fd 1 and 2 to files of its own, runs ``rig.cli.main.main`` as the
``gbcs-rig`` entry point does (``sys.exit(main())``, so argparse's exits and an uncaught
exception's traceback look the same), and its exit status is the case's. Children share no state
with each other: each is forked from the zygote, which never runs a command itself and holds no
thread (``os.fork`` with threads is unsafe, so it refuses to start with one). A child ends as the
interpreter does (exit handlers, then the streams flushed), except that it does not wait for
non-daemon threads a command left running (a fresh interpreter would wait for them).

Run as ``python -m tests.cli_zygote``: one JSON request per line on stdin (``argv``, ``cwd``,
``stdout``, ``stderr`` file paths), one JSON reply per line on stdout (``code``).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

#: what the commands import when they run, loaded once in the zygote so no child pays for it
#: (a module missing here only makes its command slower, never different)
PRELOAD = (
    "rig.cli.main", "rig.cli.refusals", "rig.cli.prove_output", "pytest", "_pytest.mark.expression",
    "cryptography.x509", "rig.gbcs", "rig.gbcs.annotate", "rig.crypto", "rig.crypto.verify", "firmware_emu",
    "firmware_emu.start_state", "rig.provision", "rig.pki", "rig.samples", "rig.transport.serve", "rig.dcc.ledger",
    "rig.dcc.ids", "rig.config", "rig.config.packaged", "rig.harness.credentials", "rig.discovery",
    "rig.report.html", "rig.report.manifest", "rig.report.merge", "rig.report.junit",
)

PROJECT = Path(__file__).resolve().parents[1]


def _exit_status(code: object) -> int:
    """What the interpreter makes of ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _child(request: dict, channels: tuple[int, int]) -> None:
    """The forked child: become the command's process, run it, exit with its status; never returns."""
    status = 1
    try:
        for fd in channels:
            os.close(fd)
        os.chdir(request["cwd"])
        for target, path, flags in ((0, os.devnull, os.O_RDONLY),
                                    (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                    (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            fd = os.open(path, flags, 0o644)
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = ["gbcs-rig", *request["argv"]]
        from rig.cli.main import main

        try:
            sys.exit(main(request["argv"]))
        except SystemExit as done:
            status = _exit_status(done.code)
        except BaseException:
            traceback.print_exc()
            status = 1
    finally:
        # as the interpreter ends: the exit handlers (logging's flush among them), then the streams
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                status = status or 120  # as the interpreter: a failed flush at exit is exit 120
        os._exit(status)


def serve() -> None:
    """The zygote's loop: preload, then fork one child per request and report its exit status."""
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:
        raise SystemExit(f"cli_zygote: {threading.active_count()} threads after the preload; fork needs one")
    requests, replies = os.dup(0), os.dup(1)  # the protocol; a child's fd 0/1/2 become its own
    with os.fdopen(requests, "r", encoding="utf-8") as inbox, os.fdopen(replies, "w", encoding="utf-8") as outbox:
        outbox.write(json.dumps({"ready": os.getpid()}) + "\n")
        outbox.flush()
        for line in inbox:
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, (requests, replies))
            _, status = os.waitpid(pid, 0)
            outbox.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
            outbox.flush()


class Zygote:
    """The test side: start the zygote once, then :meth:`run` a command line as a forked process."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cli-zygote-"))
        self.count = 0
        self.process = subprocess.Popen([sys.executable, "-m", "tests.cli_zygote"], cwd=PROJECT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        ready = self._reply(120)
        assert "ready" in ready, ready

    def _reply(self, timeout: float) -> dict:
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.close()
            raise subprocess.TimeoutExpired(["cli_zygote"], timeout)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"cli_zygote ended (exit {self.process.wait(timeout=10)})")
        return json.loads(line)

    def run(self, *argv: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
        """``gbcs-rig ARGV`` in ``cwd``: exit status, stdout and stderr, as ``subprocess.run`` gives them."""
        self.count += 1
        out, err = self.folder / f"{self.count}.out", self.folder / f"{self.count}.err"
        request = {"argv": list(argv), "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        code = self._reply(timeout)["code"]
        done = subprocess.CompletedProcess(["gbcs-rig", *argv], code, out.read_text(), err.read_text())
        out.unlink()
        err.unlink()
        return done

    def runner(self, default_cwd: Path) -> Callable[..., subprocess.CompletedProcess]:
        """``run`` with a default working folder: what a test module's ``gbcs_rig`` fixture hands out."""

        def run(*argv: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
            return self.run(*argv, cwd=cwd or default_cwd, timeout=timeout)

        return run

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End of input ends the zygote; one that does not end (a child hung) is killed with its children."""
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process.stdout.close()
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()


if __name__ == "__main__":
    serve()
