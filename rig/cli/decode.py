"""``gbcs-rig decode``: an annotated tree of one frame, with signature and MAC verdicts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from .inputs import InputError, read_frame_argument

if TYPE_CHECKING:  # the codec and cryptography load when the command runs, not for --help
    from rig.crypto.verify import Check
    from rig.gbcs.annotate import Row


def describe_certificate(der: bytes) -> str:
    """One line about an embedded certificate; whatever ``cryptography`` raises (InvalidVersion,
    UnsupportedAlgorithm, ValueError...) is the description, never a traceback."""
    from rig.crypto import certs

    try:
        certificate = certs.load_certificate(der)
        text = str(certs.summarise(certificate))
    except Exception as err:
        return f"unreadable certificate: {type(err).__name__}: {err}"
    try:
        certificate.public_key()
    except Exception as err:
        text += f" [public key unusable: {type(err).__name__}: {err}]"
    return text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("decode", help="decode one GBCS frame (hex, base64 or a file)")
    parser.add_argument("input", help="frame as hex, base64, or a file holding either (or binary)")
    parser.add_argument("--keystore", metavar="DIR",
                        help="folder of <eui>-<ds|ka>.<pem|key> files: check the signature and MAC with them "
                             "(default: no checks, the frame is only decoded)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the tree")
    parser.set_defaults(func=run)


def _row_text(row: Row) -> str:
    from rig.gbcs.annotate import short_value

    raw = row.raw.hex(" ").upper()
    if len(row.raw) > 12:
        raw = row.raw[:12].hex(" ").upper() + f" ..({len(row.raw)})"
    label = "  " * row.depth + row.name
    value = short_value(row.value)
    meaning = f"  [{row.meaning}]" if row.meaning else ""
    return f"{row.offset:6d}  {raw:<44} {label:<44} {value}{meaning}"


def run(args: argparse.Namespace) -> int:
    from rig.crypto.keystore import KeyStore, KeyStoreError
    from rig.crypto.verify import Verdict, check_mac, check_signature
    from rig.gbcs import GbcsDecodeError
    from rig.gbcs.annotate import annotate, short_value, to_jsonable
    from rig.gbcs.tables import message_code_label

    try:
        data = read_frame_argument(args.input)
        message, rows = annotate(data, describe_certificate)
    except (InputError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except GbcsDecodeError as err:
        if args.json:
            print(json.dumps({"error": str(err), "path": err.path, "offset": err.offset}))
        else:
            print(f"decode error: {err}", file=sys.stderr)
        return 2
    checks: dict[str, Check] = {}
    if args.keystore:
        try:
            keystore = KeyStore(args.keystore)
        except KeyStoreError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        checks["signature"] = check_signature(data, message, keystore)
        checks["mac"] = check_mac(data, message, keystore)
    headline = (f"{message.cra_flag.name} {message_code_label(message.message_code)}: "
                f"{message.originator_id.hex().upper()} -> {message.recipient_id.hex().upper()}, "
                f"counter {message.originator_counter}, {len(data)} bytes")
    if args.json:
        print(json.dumps({
            "summary": headline,
            "message": to_jsonable(message),
            "fields": [{"offset": r.offset, "length": r.length, "path": r.path, "hex": r.raw.hex().upper(),
                        "value": to_jsonable(r.value) if not isinstance(r.value, tuple) else short_value(r.value),
                        "meaning": r.meaning} for r in rows],
            "checks": {name: {"verdict": c.verdict.value, "detail": c.detail} for name, c in checks.items()},
        }, indent=2, default=str))
    else:
        print(headline)
        print(f"{'offset':>6}  {'bytes':<44} {'field':<44} value")
        for row in rows:
            print(_row_text(row))
        for name, check in checks.items():
            print(f"{name}: {check}")
    failed = any(c.verdict is Verdict.INVALID for c in checks.values())
    return 1 if failed else 0
