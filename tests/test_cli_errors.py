"""Every CLI error is one clear line and an exit code, never a traceback (issue 15).

Each command runs as a real process (what a person sees on a terminal), with bad input.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "fixtures" / "samples" / "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND.hex"


def gbcs_rig(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli.main", *args], cwd=cwd or PROJECT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _one_clear_line(done: subprocess.CompletedProcess, *expected: str) -> str:
    err = done.stderr
    assert "Traceback" not in err + done.stdout
    lines = [line for line in err.splitlines() if "error:" in line.lower()]
    assert len(lines) == 1, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("args", "code", "expected"), [
    (("emulate", "--device-type", "esmee", "--pty"), 2, ("invalid choice: 'ESMEE'", "'ESME', 'GSME', 'CHF', 'GPF'")),
    (("emulate", "--device-type", "ESME", "--pty", "--pki", "/nonexistent"), 2, ("no such file", "/nonexistent")),
    (("decode", "/nonexistent/frame.hex"), 2, ("/nonexistent/frame.hex",)),
    (("decode", "0011"), 2, ()),
    (("replay", "/nonexistent/cmd.hex", "--keystore", "/nonexistent"), 2, ("/nonexistent",)),
    (("prove", "--config", "/nonexistent/rigs.toml"), 2, ("no such hw_config file",)),
    (("report", "merge", "/nonexistent", "--out", "/tmp/never-written-merge"), 2, ("no journal",)),
    (("report", "verify", "/nonexistent"), 2, ("does not exist",)),
    (("prove", "--bogus-option"), 2, ("unrecognized arguments",)),
])
def test_bad_input_is_one_line_and_an_exit_code(args, code, expected):
    done = gbcs_rig(*args)
    assert done.returncode == code, done.stderr
    _one_clear_line(done, *expected)


def test_a_broken_hw_config_under_prove_is_shown_once_and_writes_no_report(tmp_path):
    config = tmp_path / "rigs.toml"
    config.write_text('[rigs.esme]\ndevice = "ESMEE"\ntransport = { kind = "emulated" }\n')
    report = tmp_path / "proof"
    done = gbcs_rig("prove", "--config", str(config), "--report", str(report))
    assert done.returncode == 2
    line = _one_clear_line(done, "rigs.toml:2", "ESMEE")
    assert done.stderr.count("ESMEE") == 1, line  # once, not buried under pytest's traceback
    assert not report.exists()


def test_a_closed_output_pipe_ends_quietly():
    """``gbcs-rig decode ... | head -1``: the reader leaves; no BrokenPipeError traceback."""
    command = [sys.executable, "-m", "rig.cli.main", "decode", str(SAMPLE)]
    with subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.readline()
        process.stdout.close()  # as head does after its line
        err = process.stderr.read().decode()
        process.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert process.returncode in (0, 141)


def test_version_names_the_release():
    done = gbcs_rig("--version")
    assert done.returncode == 0 and done.stdout.startswith("gbcs-rig "), done.stdout


def test_debug_shows_the_traceback_for_a_bug_report():
    quiet = gbcs_rig("emulate", "--device-type", "ESME", "--pty", "--pki", "/nonexistent")
    loud = gbcs_rig("--debug", "emulate", "--device-type", "ESME", "--pty", "--pki", "/nonexistent")
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr


def test_frames_are_logged_as_decoded_one_liners_at_debug(caplog):
    """``-vv`` / ``--log-level debug``: each frame a transport logs goes through the standard
    ``logging`` module as its decoded one-liner."""
    import logging

    from rig.transport import FrameLog
    from rig.transport.base import Direction, Frame, summarise

    data = bytes.fromhex(SAMPLE.read_text().strip())
    with caplog.at_level(logging.DEBUG, logger="rig.frames"):
        FrameLog().append(Frame(data, Direction.TX))
    assert [r.getMessage() for r in caplog.records] == [f"tx {summarise(data)} ({len(data)} bytes)"]
    assert "CS02b" in caplog.records[0].getMessage()


def test_log_level_choices_are_in_the_help():
    done = gbcs_rig("--help")
    assert "--log-level {debug,info,warning,error}" in done.stdout and "--version" in done.stdout
