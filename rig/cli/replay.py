"""``gbcs-rig replay``: what would a conforming meter answer to this captured command?

Seeds an emulated device of the given type with the key store's organisation certificates (in
the cells their role and key usage fit), feeds it the command, and prints the response and any
alerts, decoded. A future-dated command is also executed (the device clock is moved to its
execution time) so its 0x8F66/0x8F67 alert is shown. The work is ``rig.provision.replay``; the
notes say which profile and trust anchors were used and why, and what a discarded command lacked;
``rig.cli.refusals`` says why each refused certificate was refused and which option changes it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import TYPE_CHECKING

from .inputs import InputError, read_frame_argument
from .vocabulary import DEVICE_TYPES, PROFILES

if TYPE_CHECKING:  # the emulator, codec and cryptography load when the command runs, not for --help
    from rig.gbcs import Message


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("replay", help="feed a captured command to an emulated device seeded from a key store")
    parser.add_argument("command", help="the command frame: hex, base64 or a file")
    parser.add_argument("--device-type", default="ESME", type=str.upper, choices=DEVICE_TYPES,
                        help="type of the emulated device the command is fed to (default ESME)")
    parser.add_argument("--device-id", metavar="EUI64",
                        help="EUI-64 of the device, 16 hex digits (default: the command's recipient)")
    parser.add_argument("--keystore", required=True, metavar="DIR",
                        help="folder of <eui>-<ds|ka>.<pem|key> files: the device's own keys and the "
                             "organisations' certificates it is seeded with")
    parser.add_argument("--supplier", metavar="EUI64",
                        help="EUI-64 of the supplier whose certificates fill the supplier cells "
                             "(default: the lowest entity id with the supplier role)")
    parser.add_argument("--trust-ca", action="append", default=[], metavar="PEM",
                        help="issuing CA certificate path validation may trust (repeatable; default: the "
                             "key store's issuers found in a ca folder next to it)")
    parser.add_argument("--at", metavar="ISO8601",
                        help="the device clock at the start, e.g. 2015-01-01T00:00:00Z, UTC when no offset is "
                             "given (default: now); certificate validity is checked against it unless the profile "
                             "or the command disapplies time checks")
    parser.add_argument("--profile", default=None, choices=PROFILES,
                        help="model profile (default: rtds for an RTDS-style key store, else default; "
                             "rtds: the RTDS test devices, no time checks)")
    parser.add_argument("--state", metavar="JSON",
                        help="the device's starting state: cells, counters, pending commands, key pairs "
                             "(schema: docs/emulator.md)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (response and alerts in hex, events, notes, profile, trust anchors, "
                             "refusals) instead of text")
    parser.set_defaults(func=run)


def _eui(text: str) -> bytes:
    value = bytes.fromhex(text.replace("-", "").replace(":", ""))
    if len(value) != 8:
        raise ValueError(f"{text!r} is not an EUI-64")
    return value


def _trust_anchor(path: str) -> bytes:
    """A ``--trust-ca`` file as DER; one that holds no certificate is named, with what to give."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from rig.crypto import certs

    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return certs.load_certificate(data).public_bytes(Encoding.DER)
    except ValueError as err:
        raise InputError(f"--trust-ca {path}: not a PEM or DER X.509 certificate ({err}); give the issuing CA's "
                         "certificate, e.g. the ca/issuing-ca.pem of a gbcs-rig pki init folder") from None


def _clock(text: str) -> _dt.datetime:
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--at {text!r}: not an ISO 8601 time (e.g. 2015-01-01T00:00:00Z)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.UTC)  # as the device clock reads it


def _describe(message: Message) -> list[str]:
    from rig.gbcs import Cs02bResponse
    from rig.gbcs.tables import message_code_label

    lines = [f"{message.cra_flag.name} {message_code_label(message.message_code)}: "
             f"{message.originator_id.hex().upper()} -> {message.recipient_id.hex().upper()} counter "
             f"{message.originator_counter}"]
    outcome = getattr(message.payload, "execution_outcome", None)
    if isinstance(message.payload, Cs02bResponse) and outcome is None:
        lines.append("commandAccepted (no execution outcome: future dated or cancellation)")
    if outcome is not None:
        if hasattr(message.payload, "alert_code"):
            lines.append(f"alert code 0x{message.payload.alert_code:04X}")
        for change in outcome.seq_number_changes:
            lines.append(f"floor {change.role.name}: {change.floor_seq_number}")
        for cell in outcome.outcomes:
            lines.append(f"cell {cell.cell}: {cell.status.name} {cell.existing_subject_id.hex().upper()}/"
                         f"{cell.existing_key_id.hex().upper()} -> {cell.replacing_subject_id.hex().upper()}/"
                         f"{cell.replacing_key_id.hex().upper()}")
    return lines


def run(args: argparse.Namespace) -> int:
    from firmware_emu.start_state import load as load_state
    from rig.crypto import KeyStore, KeyStoreError
    from rig.gbcs import GbcsDecodeError, decode
    from rig.provision import public_point, replay

    from . import refusals
    from .refusals import certificate_name

    try:
        frame = read_frame_argument(args.command)
        decode(frame)
        keystore = KeyStore(args.keystore)
        device_id = _eui(args.device_id) if args.device_id else None
        supplier = _eui(args.supplier) if args.supplier else None
        trusted = [_trust_anchor(path) for path in args.trust_ca] if args.trust_ca else None
        start = _clock(args.at) if args.at else _dt.datetime.now(_dt.UTC)
        state = load_state(args.state) if args.state else None
    except (InputError, OSError, ValueError, GbcsDecodeError, KeyStoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        result = replay(frame, keystore, args.device_type, device_id=device_id, supplier=supplier,
                        trusted_cas=trusted, at=start, profile=args.profile, state=state)
    except Exception as err:  # a key store the device cannot be seeded from: an input error, not a crash
        print(f"error: cannot seed a {args.device_type} from {args.keystore}: {type(err).__name__}: {err}",
              file=sys.stderr)
        return 2
    device, response, alerts, notes = result.device, result.response, result.alerts, result.notes
    outputs = ([("response", response)] if response is not None else []) + [("alert", a) for a in alerts]
    refused = refusals.explain(device, decode(frame), [decode(f) for _, f in outputs])
    anchors = [certificate_name(a) for a in device.anchors()]
    if args.json:
        print(json.dumps({"response": response.hex().upper() if response else None,
                          "alerts": [a.hex().upper() for a in alerts],
                          "events": [e.to_json() | {"name": e.name} for e in device.events],
                          "notes": notes, "profile": result.profile, "trust_anchors": anchors,
                          "refusals": [r.to_json() for r in refused],
                          "device_public_key": public_point(device.identity.ds_key.public_key()).hex().upper()},
                         indent=2))
        return 0
    for note in notes:
        print(f"note: {note}")
    print(f"device {device.entity_id.hex().upper()} ({args.device_type}, profile {result.profile}) at "
          f"{start.isoformat()}")
    print(f"trust anchors: {', '.join(anchors) or 'none'}")
    if response is None:
        print("response: none (the command was discarded)")
    for kind, frame_out in outputs:
        print(f"{kind} ({len(frame_out)} bytes): {frame_out.hex().upper()}")
        for line in _describe(decode(frame_out)):
            print(f"  {line}")
    for refusal in refused:
        print(f"why: {refusal}")
    for event in device.events:
        print(f"event: {event}")
    return 0
