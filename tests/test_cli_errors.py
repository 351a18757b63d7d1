"""Every CLI error is one clear line and an exit code, never a traceback (issue 15).

Each command runs as a real process (what a person sees on a terminal), with bad input: a child
forked from one interpreter that has the CLI imported (``tests/cli_zygote.py``), with its own
folder, fds and exit status; the entry point itself, ``--version``, ``--debug`` and a closed
pipe run as fresh interpreters (``python -m rig.cli.main``), and the fork is checked to answer
exactly as a fresh interpreter does.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "fixtures" / "samples" / "CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND.hex"


def gbcs_rig_interpreter(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``gbcs-rig ARGS`` in a fresh interpreter, the entry point as a person runs it."""
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


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Files a person gets wrong, made in ``folder``; the table below names them as ``{key}``."""
    (folder / "garbage.hex").write_text("garbage\n")
    (folder / "bad.json").write_text('{"counters": 5\n')
    (folder / "list.json").write_text("[]\n")
    (folder / "bad.toml").write_text("rigs = [\n")
    (folder / "afile").write_text("a file, not a folder\n")
    (folder / "notpki").mkdir()
    (folder / "badpki").mkdir()
    (folder / "badpki" / "pki.toml").write_text("seed = [\n")
    (folder / "badjournal").mkdir()
    (folder / "badjournal" / "journal.jsonl").write_text("not json\n<testsuite\n")
    (folder / "run").mkdir()
    (folder / "run" / "journal.jsonl").write_text('{"type": "session", "expected": []}\n')
    (folder / "sealed").mkdir()
    (folder / "sealed" / "manifest.json").write_text("{\n")
    return {"tmp": str(folder), "sample": str(SAMPLE), "keystore": str(PROJECT / "fixtures" / "pki" / "keystore")}


#: (command line, exit code, texts the one error line must hold); every command and sub-command
#: at least once, with a missing file, a malformed file and a bad value where it takes them
BAD_INPUT = [
    (("decode", "/nonexistent/a-long-folder-name/CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND.hex"), 2,
     ("no such file: /nonexistent/a-long-folder-name/CS02bSupplierByTransCoS_IMMEDIATE_SUCCESS_COMMAND.hex",)),
    (("decode", "0011"), 2, ("decode error",)),
    (("decode", "{tmp}/garbage.hex"), 2, ("decode error", "general-signing tag")),
    (("decode", "{sample}", "--keystore", "/nonexistent"), 2, ("key store folder /nonexistent does not exist",)),
    (("replay", "/nonexistent/cmd.hex", "--keystore", "/nonexistent"), 2, ("/nonexistent",)),
    (("replay", "{tmp}/garbage.hex", "--keystore", "{keystore}"), 2, ("general-signing tag",)),
    (("replay", "{sample}", "--keystore", "{keystore}", "--at", "yesterday"), 2,
     ("--at 'yesterday': not an ISO 8601 time", "2015-01-01T00:00:00Z")),
    (("replay", "{sample}", "--keystore", "{keystore}", "--trust-ca", "{tmp}/garbage.hex"), 2,
     ("--trust-ca", "garbage.hex: not a PEM or DER X.509 certificate", "issuing-ca.pem")),
    (("replay", "{sample}", "--keystore", "{keystore}", "--trust-ca", "/nonexistent/ca.pem"), 2,
     ("/nonexistent/ca.pem",)),
    (("replay", "{sample}", "--keystore", "{keystore}", "--device-id", "0011"), 2, ("'0011' is not an EUI-64",)),
    (("replay", "{sample}", "--keystore", "{keystore}", "--state", "{tmp}/bad.json"), 2, ("bad.json: not JSON",)),
    (("replay", "{sample}", "--keystore", "{keystore}", "--device-type", "meter"), 2,
     ("invalid choice: 'METER'", "'ESME', 'GSME', 'CHF', 'GPF'")),
    (("emulate", "--device-type", "esmee", "--pty"), 2, ("invalid choice: 'ESMEE'", "'ESME', 'GSME', 'CHF', 'GPF'")),
    (("emulate", "--device-type", "ESME", "--pty", "--pki", "/nonexistent"), 2, ("no such PKI folder: /nonexistent",)),
    (("emulate", "--device-type", "ESME", "--pty", "--pki", "{tmp}/notpki"), 2,
     ("notpki is not a PKI folder: it has no pki.toml", "gbcs-rig pki init")),
    (("emulate", "--device-type", "ESME", "--tcp", "70000"), 2, ("--tcp takes a port number 0..65535",)),
    (("emulate", "--device-type", "ESME", "--pty", "--fleet", "-1"), 2, ("--fleet must be >= 0",)),
    (("emulate", "--device-type", "ESME", "--pty", "--framing", "slip"), 2, ("invalid choice: 'slip'", "'hdlc'")),
    (("ncp", "--device-type", "CHF", "--pty"), 2, ("invalid choice: 'CHF'", "'ESME', 'GSME'")),
    (("ncp", "--device-type", "ESME", "--pty", "--pki", "/nonexistent"), 2, ("no such PKI folder: /nonexistent",)),
    (("ncp", "--device-type", "ESME", "--pty", "--fragment-window", "9"), 2, ("--fragment-window is 1..8",)),
    (("pki", "init", "{tmp}/afile"), 2, ("afile already exists",)),
    (("pki", "samples", "{tmp}/out", "--pki", "/nonexistent"), 2, ("no such PKI folder: /nonexistent",)),
    (("pki", "samples", "{tmp}/out", "--pki", "{tmp}/badpki"), 2, ("pki.toml: not a PKI manifest",)),
    (("pki", "generate", "{tmp}/out"), 2, ("invalid choice: 'generate'", "'init', 'samples'")),
    (("prove", "--config", "/nonexistent/rigs.toml"), 2, ("no such hw_config file",)),
    (("prove", "--bogus-option"), 2, ("unrecognized arguments",)),
    (("prove", "--mode", "simulated"), 2, ("invalid choice: 'simulated'", "'emulated', 'hardware', 'auto'")),
    (("prove", "--rig", "nosuchrig", "--report", "{tmp}/proof"), 2, ("no rig 'nosuchrig'", "esme")),
    (("prove", "-k", "future and", "--report", "{tmp}/proof"), 2,
     ("-k 'future and' is not a pytest -k expression", "gbcs-rig prove --list")),
    (("prove", "--resume", "{tmp}/notpki"), 2, ("holds no journal to resume",)),
    (("prove", "--sign-key", "/nonexistent/key.pem", "--report", "{tmp}/proof"), 2, ("/nonexistent/key.pem",)),
    (("prove", "--report", "{tmp}/afile"), 2, ("afile already exists",)),
    (("report", "merge", "/nonexistent", "--out", "{tmp}/merged"), 2, ("no journal",)),
    (("report", "merge", "{tmp}/badjournal", "--out", "{tmp}/merged"), 2,
     ("badjournal/journal.jsonl: no session or test record", "not a journal written by gbcs-rig prove")),
    (("report", "merge", "{tmp}/run", "--out", "{tmp}/run"), 2, ("is one of the folders to merge",)),
    (("report", "merge", "{tmp}/run", "--out", "{tmp}/merged", "--sign-key", "/nonexistent/key.pem"), 2,
     ("/nonexistent/key.pem",)),
    (("report", "verify", "/nonexistent"), 2, ("does not exist",)),
    (("report", "verify", "{tmp}/sealed", "--key", "/nonexistent/cert.pem"), 2, ("/nonexistent/cert.pem",)),
    (("ledger", "show", "NOTHEX"), 2, ("not an EUI-64: 'NOTHEX'",)),
    (("ledger", "--config", "/nonexistent/rigs.toml", "show", "0011223344556677"), 2, ("/nonexistent/rigs.toml",)),
    (("ledger", "--config", "{tmp}/bad.toml", "show", "0011223344556677"), 2, ("config error", "bad.toml:2: TOML syntax error")),
    (("ledger", "--state-dir", "{tmp}/afile", "show", "0011223344556677"), 2, ("afile is not a folder",)),
    (("ledger", "--state-dir", "{tmp}/state", "export", "/nonexistent/dir/counters.json"), 2,
     ("/nonexistent/dir/counters.json",)),
    (("ledger", "--state-dir", "{tmp}/state", "import", "/nonexistent/counters.json"), 2,
     ("/nonexistent/counters.json",)),
    (("ledger", "--state-dir", "{tmp}/state", "import", "{tmp}/bad.json"), 2, ("bad.json: not a JSON counter ledger",)),
    (("ledger", "--state-dir", "{tmp}/state", "import", "{tmp}/list.json"), 2, ("not a counter ledger export",)),
    (("devices", "--usb"), 2, ("unrecognized arguments: --usb",)),
]


@pytest.mark.parametrize(("args", "code", "expected"), BAD_INPUT, ids=[" ".join(a[:2]) for a, _, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_an_exit_code(args, code, expected, tmp_path, gbcs_rig):
    names = _bad_inputs(tmp_path)
    done = gbcs_rig(*(arg.format(**names) for arg in args), cwd=tmp_path)
    assert done.returncode == code, done.stderr
    _one_clear_line(done, *(text.format(**names) for text in expected))


@pytest.mark.parametrize("args", [
    ("emulate", "--device-type", "esmee", "--pty"),  # argparse's usage error and exit
    ("replay", "{sample}", "--keystore", "{keystore}", "--device-id", "0011"),  # the command's own error
    ("decode", "{sample}"),  # a success, with its output
    ("report", "verify", "{tmp}/sealed"),  # a verdict on stdout, exit 1
], ids=["usage", "replay", "decode", "verify"])
def test_a_forked_child_answers_exactly_as_a_fresh_interpreter(args, tmp_path, gbcs_rig):
    """What the table above relies on: the zygote's child is the command's process as a person
    starts it, byte for byte on stdout and stderr, with the same exit status."""
    names = _bad_inputs(tmp_path)
    argv = [arg.format(**names) for arg in args]
    forked, fresh = gbcs_rig(*argv, cwd=tmp_path), gbcs_rig_interpreter(*argv, cwd=tmp_path)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert fresh.stdout or fresh.stderr


def test_every_command_and_sub_command_is_run_with_bad_input():
    """The table above reaches every command the parser has (a new one must join it)."""
    from rig.cli.main import build_parser

    from .test_cli_help import commands

    def command_of(args: tuple[str, ...]) -> str:
        parser, path = build_parser(), ["gbcs-rig"]
        for arg in args:
            sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
            if sub is not None and arg in sub.choices:
                parser = sub.choices[arg]
                path.append(arg)
        return " ".join(path)

    tried = {command_of(args) for args, _, _ in BAD_INPUT}
    leaves = {name for name, parser in commands(build_parser())
              if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)}
    assert len(leaves) >= 13 and leaves - tried == set()


def test_merging_into_one_of_the_inputs_leaves_it_untouched(tmp_path, gbcs_rig):
    """``report merge A --out A`` once deleted A's journal before reading it."""
    _bad_inputs(tmp_path)
    journal = tmp_path / "run" / "journal.jsonl"
    before = journal.read_text()
    assert gbcs_rig("report", "merge", str(tmp_path / "run"), "--out", str(tmp_path / "run")).returncode == 2
    assert journal.read_text() == before


def test_report_verify_of_a_malformed_manifest_is_not_verified_in_plain_words(tmp_path, gbcs_rig):
    _bad_inputs(tmp_path)
    done = gbcs_rig("report", "verify", str(tmp_path / "sealed"))
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "manifest.json is not valid JSON" in done.stdout and done.stdout.rstrip().endswith("NOT VERIFIED")


def test_nothing_is_written_for_a_run_that_cannot_start(tmp_path, gbcs_rig):
    for args in (("--rig", "nosuchrig"), ("-k", "future and")):
        assert gbcs_rig("prove", *args, "--report", str(tmp_path / "proof"), cwd=tmp_path).returncode == 2
    assert not (tmp_path / "proof").exists()


def test_a_broken_hw_config_under_prove_is_shown_once_and_writes_no_report(tmp_path, gbcs_rig):
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
    done = gbcs_rig_interpreter("--version")
    assert done.returncode == 0 and done.stdout.startswith("gbcs-rig "), done.stdout


def test_the_installed_console_script_is_the_same_command(tmp_path):
    """The ``gbcs-rig`` script the installation put next to this interpreter (pyproject's
    ``[project.scripts]``), as a person types it. Both run outside the checkout, so both import
    the package this environment has installed (a checkout's revision is named only when the
    checkout itself is imported, as an editable install does)."""
    script = Path(sys.executable).with_name("gbcs-rig")
    if not script.exists():
        pytest.skip(f"no gbcs-rig script next to {sys.executable} (not installed into this environment)")
    done = subprocess.run([str(script), "decode", "0011"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert _one_clear_line(done, "decode error") and done.stdout == ""
    assert subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path).stdout == gbcs_rig_interpreter("--version", cwd=tmp_path).stdout


def test_debug_shows_the_traceback_for_a_bug_report():
    quiet = gbcs_rig_interpreter("emulate", "--device-type", "ESME", "--pty", "--pki", "/nonexistent")
    loud = gbcs_rig_interpreter("--debug", "emulate", "--device-type", "ESME", "--pty", "--pki", "/nonexistent")
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


def test_log_level_choices_are_in_the_help(gbcs_rig):
    done = gbcs_rig("--help")
    assert "--log-level {debug,info,warning,error}" in done.stdout and "--version" in done.stdout
