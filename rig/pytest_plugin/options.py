"""Command-line options, ini keys and ``RIG_*`` environment variables (labgrid's ``--lg-*`` style).

Precedence: command line, then environment, then ini file, then the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

DEFAULT_CONFIG = "hw_configs/emulated.toml"
MODES = ("emulated", "hardware", "auto")
CAPTURES = ("none", "failed", "all")


@dataclass(frozen=True)
class OptionSpec:
    flag: str
    dest: str
    env: str
    ini: str
    help: str
    default: object = None
    choices: tuple[str, ...] | None = None
    repeatable: bool = False


OPTIONS = (
    OptionSpec("--rig-config", "rig_config", "RIG_CONFIG", "rig_config",
               f"hw_configs TOML file describing the rigs (default {DEFAULT_CONFIG})", DEFAULT_CONFIG),
    OptionSpec("--rig", "rig_ids", "RIG_ID", "rig_ids", "run only on this rig id (repeatable; env: comma separated)",
               None, repeatable=True),
    OptionSpec("--rig-mode", "rig_mode", "RIG_MODE", "rig_mode",
               "emulated: emulated rigs only; hardware: real devices only; auto: every rig in the file", "auto",
               MODES),
    OptionSpec("--rig-log-dir", "rig_log_dir", "RIG_LOG_DIR", "rig_log_dir",
               "folder for the JSON-lines journal and frame traces (default reports/rig)", "reports/rig"),
    OptionSpec("--rig-capture", "rig_capture", "RIG_CAPTURE", "rig_capture",
               "keep frame trace files for no tests, failed tests or all tests", "failed", CAPTURES),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rig", "gbcs-rig: GB smart meter rigs")
    for spec in OPTIONS:
        kwargs: dict = {"dest": spec.dest, "default": None, "help": f"{spec.help} [env {spec.env}, ini {spec.ini}]"}
        if spec.repeatable:
            kwargs["action"] = "append"
        if spec.choices:
            kwargs["choices"] = spec.choices
        group.addoption(spec.flag, **kwargs)
        parser.addini(spec.ini, spec.help, type="linelist" if spec.repeatable else "string",
                      default=[] if spec.repeatable else None)


def resolve(config: pytest.Config, dest: str):
    """The effective value of an option, honouring CLI > env > ini > default."""
    spec = next(s for s in OPTIONS if s.dest == dest)
    value = config.getoption(dest)
    if value not in (None, []):
        return value
    env = os.environ.get(spec.env)
    if env:
        value = [v.strip() for v in env.split(",") if v.strip()] if spec.repeatable else env
    else:
        ini = config.getini(spec.ini)
        value = ini if ini not in (None, "", []) else spec.default
    if spec.choices and value not in spec.choices:
        raise pytest.UsageError(f"{spec.flag}: {value!r} is not one of {', '.join(spec.choices)}")
    return value
