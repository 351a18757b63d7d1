"""Every ``gbcs-rig`` option can be used from ``--help`` alone (issue 15).

The test walks the parser ``rig.cli.main.build_parser`` builds (every command and sub-command)
and names each command and option that: has no help (or an empty or suppressed one), takes one
of a fixed set of values without declaring ``choices`` (so ``--help`` and the error for a typo
could not list them), declares choices that drift from the project's own table of that set,
takes a free value without saying what kind (a metavar), or has a default its help does not state.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from firmware_emu import PROFILES
from firmware_emu.device_types import DeviceType
from rig.cli.main import LOG_LEVELS, build_parser
from rig.pytest_plugin.options import MODES
from rig.transport.framing import FRAMINGS
from rig.transport.serve import ENDPOINT_KINDS

#: the fixed value sets of the project, as its own modules define them; an option named after one
#: (its dest), or whose help lists two or more of its values, must offer them as ``choices``
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "device_type": tuple(t.value for t in DeviceType),
    "profile": tuple(PROFILES),
    "framing": tuple(FRAMINGS),
    "endpoint": ENDPOINT_KINDS,
    "mode": MODES,
    "log_level": LOG_LEVELS,
}

#: (command, option) -> why its help is suppressed; none is today
SUPPRESSED: dict[tuple[str, str], str] = {}

#: actions whose default is implied by what they are (a flag is off, a counter starts at 0)
_IMPLIED_DEFAULT = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._CountAction,
                    argparse._HelpAction, argparse._VersionAction)


def commands(parser: argparse.ArgumentParser, path: str = "gbcs-rig") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command and sub-command's parser, depth first, named as typed (``gbcs-rig report merge``)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def _name(action: argparse.Action) -> str:
    return action.option_strings[-1] if action.option_strings else (action.metavar or action.dest)


def problems_of(command: str, parser: argparse.ArgumentParser) -> list[str]:
    """What a newcomer could not learn from ``command --help``, one line each."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        where = f"{command} {_name(action)}"
        if action.help is argparse.SUPPRESS:
            if (command, _name(action)) not in SUPPRESSED:
                found.append(f"{where}: help is suppressed without a reason in SUPPRESSED")
        elif not (action.help or "").strip():
            found.append(f"{where}: no help")
        if isinstance(action, argparse._SubParsersAction):
            described = {choice.dest: choice.help for choice in action._choices_actions}
            found += [f"{command} {name}: no help line in {command} --help" for name in action.choices
                      if not (described.get(name) or "").strip()]
            continue
        takes_value = action.nargs != 0
        if takes_value and action.choices is None:
            listed = [name for name, values in VOCABULARIES.items()
                      if action.dest == name or len({v for v in values
                                                     if re.search(rf"\b{re.escape(v)}\b", action.help or "")}) >= 2]
            found += [f"{where}: takes a {name.replace('_', ' ')} ({', '.join(VOCABULARIES[name])}) "
                      "but declares no choices" for name in listed]
            if action.option_strings and action.metavar is None:
                found.append(f"{where}: a free value with no metavar saying what it is (FILE, DIR, N, ...)")
        elif takes_value and action.dest in VOCABULARIES:
            drift = {str(c) for c in action.choices} - set(VOCABULARIES[action.dest])
            if drift:
                found.append(f"{where}: choices {sorted(drift)} are not {action.dest} values of the project")
        if (action.option_strings and not isinstance(action, _IMPLIED_DEFAULT)
                and action.default not in (None, [], argparse.SUPPRESS)
                and not re.search(r"default|%\(default\)", action.help or "")):
            found.append(f"{where}: default {action.default!r} not stated in its help")
    return found


def all_problems(parser: argparse.ArgumentParser) -> list[str]:
    return [problem for command, sub in commands(parser) for problem in problems_of(command, sub)]


def test_every_command_and_option_is_explained_by_its_help():
    problems = all_problems(build_parser())
    assert not problems, "\n".join(problems)


def test_the_walk_reaches_every_command_and_sub_command():
    names = {name for name, _ in commands(build_parser())}
    assert {"gbcs-rig decode", "gbcs-rig replay", "gbcs-rig emulate", "gbcs-rig ncp", "gbcs-rig devices",
            "gbcs-rig prove", "gbcs-rig pki init", "gbcs-rig pki samples", "gbcs-rig report merge",
            "gbcs-rig report verify", "gbcs-rig ledger show", "gbcs-rig ledger export",
            "gbcs-rig ledger import"} <= names


def _parser_with(**option) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gbcs-rig demo")
    parser.add_argument("--thing", **option)
    return parser


@pytest.mark.parametrize(("option", "expected"), [
    ({"metavar": "N"}, "gbcs-rig demo --thing: no help"),
    ({"metavar": "N", "help": "  "}, "gbcs-rig demo --thing: no help"),
    ({"metavar": "N", "help": argparse.SUPPRESS}, "gbcs-rig demo --thing: help is suppressed without a reason"),
    ({"metavar": "T", "help": "ESME or GSME"}, "gbcs-rig demo --thing: takes a device type"),
    ({"metavar": "T", "dest": "framing", "help": "the framing"}, "gbcs-rig demo --thing: takes a framing"),
    ({"help": "a value"}, "gbcs-rig demo --thing: a free value with no metavar"),
    ({"metavar": "N", "default": 4, "help": "a window"}, "gbcs-rig demo --thing: default 4 not stated"),
    ({"dest": "device_type", "choices": ["ESME", "ESMEE"], "default": "ESME", "help": "type (default ESME)"},
     "gbcs-rig demo --thing: choices ['ESMEE'] are not device_type values"),
])
def test_each_rule_names_the_command_and_the_option(option, expected):
    """The planted faults: each one is caught and named."""
    problems = problems_of("gbcs-rig demo", _parser_with(**option))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_well_described_option_passes():
    assert problems_of("gbcs-rig demo", _parser_with(metavar="N", type=int, default=4,
                                                     help="frames in flight (default %(default)s)")) == []
    assert problems_of("gbcs-rig demo", _parser_with(choices=["hdlc"], default="hdlc", dest="framing",
                                                     help="link framing (default hdlc)")) == []


def test_the_parsers_copies_of_the_project_tables_are_exact():
    """``rig.cli.vocabulary`` copies the value sets so building the parsers imports none of
    their modules; a profile, framing or mode added to the project must reach the CLI too."""
    from rig.cli import vocabulary
    from rig.pki import DEFAULT_SEED

    assert vocabulary.DEVICE_TYPES == VOCABULARIES["device_type"]
    assert set(vocabulary.NCP_DEVICE_TYPES) < set(vocabulary.DEVICE_TYPES)
    assert vocabulary.PROFILES == tuple(sorted(PROFILES))
    assert vocabulary.FRAMINGS == tuple(sorted(FRAMINGS))
    assert vocabulary.ENDPOINT_KINDS == ENDPOINT_KINDS
    assert vocabulary.MODES == MODES
    assert vocabulary.DEFAULT_PKI_SEED == DEFAULT_SEED


#: third-party and project packages a command imports only when it runs (``gbcs-rig --help``
#: and a usage error cost a bare interpreter start, not the codec, emulator or pytest)
_LOADED_BY_RUNNING = ("pytest", "_pytest", "cryptography", "construct", "serial", "pyudev", "bellows", "labgrid",
                      "firmware_emu")
#: the only project modules building and using the parsers may load
_PARSER_MODULES = re.compile(r"rig(\.cli(\.\w+)?|\.report(\.journal|\.model)?)?")


def test_help_and_a_usage_error_import_no_command_module():
    probe = ("import json, sys\n"
             "from rig.cli.main import main\n"
             "for argv in (['--help'], ['prove', '--help'], ['replay', '--help'], ['decode'], ['ledger', 'show']):\n"
             "    try:\n"
             "        main(argv)\n"
             "    except SystemExit:\n"
             "        pass\n"
             "sys.stdout = sys.__stdout__\n"
             "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    heavy = [name for name in loaded if name.split(".")[0] in _LOADED_BY_RUNNING
             or (name.split(".")[0] == "rig" and not _PARSER_MODULES.fullmatch(name))]
    assert heavy == [], heavy
