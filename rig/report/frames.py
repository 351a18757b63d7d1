"""What the report shows for one frame: the decoded tree, signature and MAC verdicts, the alert.

The tree is the one ``gbcs-rig decode`` prints (``rig.gbcs.annotate``: field, offset, bytes,
value, meaning, certificate subjects), so a reader can check the HTML against the CLI. Generic
alert payloads, which the codec keeps as bytes, are laid out field by field underneath
(``rig.report.alerts``). Nothing here may stop a report from being written: a frame the
decoder rejects shows the decoder's error (field path and offset) instead of a tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from rig.crypto import certs
from rig.crypto.keystore import KeyStore
from rig.crypto.verify import check_mac, check_signature
from rig.gbcs import Cs02bAlert, GbcsDecodeError, Message
from rig.gbcs.annotate import annotate, short_value
from rig.gbcs.tables import CraFlag, alert_code_label, message_code_label

from .alerts import GENERIC_ALERT_CODES, AlertLayoutError, generic_alert_fields

NOT_CHECKED = "not checked"
NO_KEY_STORE = "the report writer was given no key store"


class TreeRow(NamedTuple):
    """One line of a frame's decoded tree. A named tuple, not a frozen dataclass: a whole proof
    makes some hundred thousand of them, and a tuple is built several times faster."""

    offset: int
    raw: bytes
    depth: int
    name: str
    value: str
    meaning: str = ""


@dataclass
class FrameEvidence:
    """One frame as the report explains it."""

    size: int
    headline: str = ""
    rows: list[TreeRow] = field(default_factory=list)
    #: check name ("signature", "MAC") -> (verdict, detail); verdict VALID, INVALID, ABSENT, NO KEY or "not checked"
    checks: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: one line: the alert code and what it says (alerts only)
    alert: str = ""
    #: why there is no tree (the decoder's error), or why part of it is missing
    error: str = ""


@lru_cache(maxsize=1024)
def describe_certificate(der: bytes) -> str:
    """Subject summary of a certificate carried in a frame (what ``decode`` shows). Remembered by
    its bytes: a run carries the same few organisation certificates in hundreds of frames."""
    try:
        return str(certs.summarise(der))
    except ValueError as err:
        return f"unreadable certificate: {err}"


def _generic_alert_rows(message: Message, rows: list[TreeRow], evidence: FrameEvidence) -> None:
    payload_row = next((i for i, r in enumerate(rows) if r.name == "payload"), None)
    try:
        fields = generic_alert_fields(message.payload)
    except AlertLayoutError as err:
        evidence.error = f"alert payload not laid out: {err}"
        return
    base = rows[payload_row] if payload_row is not None else None
    offset, depth = (base.offset, base.depth + 1) if base is not None else (0, 1)
    extra = [TreeRow(offset + f.offset, f.raw, depth, f.name, f.value, f.meaning) for f in fields]
    position = payload_row + 1 if payload_row is not None else len(rows)
    rows[position:position] = extra
    code = next((f for f in fields if f.name == "alert code"), None)
    stamp = next((f for f in fields if f.name == "time stamp"), None)
    if code is not None:
        evidence.alert = (f"{GENERIC_ALERT_CODES.get(message.message_code, 'alert')} {code.value} {code.meaning}"
                          + (f", at {stamp.value}" if stamp is not None else ""))


def _cs02b_alert(payload: Cs02bAlert) -> str:
    outcome = payload.execution_outcome
    statuses = ", ".join(f"{o.cell.role.name} {o.cell.key_usage.name}: {o.status.name}" for o in outcome.outcomes)
    return (f"0x{payload.alert_code:04X} {alert_code_label(payload.alert_code)}; executed "
            f"{payload.execution_date_time.isoformat()} for command counter {outcome.seq_number} "
            f"({outcome.mode.name}); {statuses or 'no replacement outcome'}")


def _checks(data: bytes, message: Message, keystore: KeyStore | None) -> dict[str, tuple[str, str]]:
    if keystore is None:
        return {"signature": (NOT_CHECKED, NO_KEY_STORE), "MAC": (NOT_CHECKED, NO_KEY_STORE)}
    out = {}
    for name, check in (("signature", check_signature), ("MAC", check_mac)):
        try:
            result = check(data, message, keystore)
        except (LookupError, ValueError, TypeError) as err:  # an unreadable key file in the store
            out[name] = (NOT_CHECKED, f"{type(err).__name__}: {err}")
            continue
        out[name] = (result.verdict.value, result.detail)
    return out


def frame_evidence(frame_hex: str, keystore: KeyStore | None = None) -> FrameEvidence:
    """Decode one journal frame (hex text); never raises."""
    try:
        data = bytes.fromhex(frame_hex or "")
    except (ValueError, TypeError):
        return FrameEvidence(0, error=f"not hex: {str(frame_hex)[:40]!r}")
    evidence = FrameEvidence(len(data))
    try:
        _explain(data, keystore, evidence)
    except GbcsDecodeError as err:
        evidence.error = f"decode error: {err}"
    except Exception as err:  # a bug here must not cost the whole proof report: say so in the page
        evidence.error = f"internal error explaining this frame ({type(err).__name__}: {err}); please report it"
    return evidence


def _explain(data: bytes, keystore: KeyStore | None, evidence: FrameEvidence) -> None:
    message, annotated = annotate(data, describe_certificate)
    evidence.headline = (f"{message.cra_flag.name} 0x{message.message_code:04X} {message_code_label(message.message_code)}: "
                         f"{message.originator_id.hex().upper()} -> {message.recipient_id.hex().upper()}, "
                         f"counter {message.originator_counter}, {len(data)} bytes")
    evidence.rows = [TreeRow(r.offset, r.raw, r.depth, r.name, short_value(r.value), r.meaning) for r in annotated]
    if message.cra_flag == CraFlag.ALERT:
        if isinstance(message.payload, Cs02bAlert):
            evidence.alert = _cs02b_alert(message.payload)
        elif message.message_code in GENERIC_ALERT_CODES and isinstance(message.payload, (bytes, bytearray)):
            _generic_alert_rows(message, evidence.rows, evidence)
    evidence.checks = _checks(data, message, keystore)
