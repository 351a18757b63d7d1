"""GBCS code tables as data: message codes, alert codes, roles, key and cell usages, modes,
status codes.

The long lists (message codes, alert codes) live in CSV files under ``data/`` so they can be
reviewed and extended without touching code. The short enumerations are ``IntEnum`` classes
because the codec returns them as values. Unknown numeric values never raise: a decoder must
represent whatever a device sent, so every enumeration here is lenient (``Role(42)`` gives a
member named ``UNKNOWN_42`` that still compares equal to 42).

Sources: ``docs/reference/gbcs-cs02b.md`` sections 4, 5 and 12 (RTDS-checked).
"""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources


class LenientIntEnum(enum.IntEnum):
    """IntEnum that represents unknown values instead of raising."""

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class CraFlag(LenientIntEnum):
    """Grouping header CRA flag."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


class RemotePartyRole(LenientIntEnum):
    """GBCS RemotePartyRole (INTEGER); certificate OU carries the same value in hex."""

    ROOT = 0
    RECOVERY = 1
    SUPPLIER = 2
    NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER = 4
    TRANSITIONAL_COS = 5
    WAN_PROVIDER = 6
    ISSUING_AUTHORITY = 7
    LOAD_CONTROLLER = 8
    OTHER = 127
    #: DCC Boxed XML-signing organisation certificates (OU "87"); not a GBCS trust anchor role
    XML_SIGN = 135
    #: DCC Boxed DSP XML-signing certificates (OU "89")
    DSP_XML_SIGN = 137


class KeyUsage(enum.IntFlag):
    """X.509 KeyUsage named bits; bit i here is X.509 bit i (DER named-bit BIT STRING)."""

    DIGITAL_SIGNATURE = 1 << 0
    NON_REPUDIATION = 1 << 1
    KEY_ENCIPHERMENT = 1 << 2
    DATA_ENCIPHERMENT = 1 << 3
    KEY_AGREEMENT = 1 << 4
    KEY_CERT_SIGN = 1 << 5
    CRL_SIGN = 1 << 6
    ENCIPHER_ONLY = 1 << 7
    DECIPHER_ONLY = 1 << 8


class CellUsage(LenientIntEnum):
    """Trust anchor cell usage (DEFAULT management)."""

    MANAGEMENT = 0
    PREPAYMENT_TOP_UP = 1


class SeqNumberUsage(LenientIntEnum):
    """SpecialistSeqNumber usage."""

    PREPAYMENT_TOP_UP = 0


class ReplacementMode(LenientIntEnum):
    """CS02b/CS02g credentialsReplacementMode."""

    ROOT_BY_SUPPLIER = 0
    ROOT_BY_WAN_PROVIDER = 1
    SUPPLIER_BY_SUPPLIER = 2
    NETWORK_OPERATOR_BY_NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER_BY_ACB = 4
    WAN_PROVIDER_BY_WAN_PROVIDER = 5
    TRANS_COS_BY_TRANS_COS = 6
    SUPPLIER_BY_TRANS_COS = 7
    ANY_EXCEPT_ABNORMAL_ROOT_BY_RECOVERY = 8
    ANY_BY_CONTINGENCY = 9
    LOAD_CONTROLLER_BY_LOAD_CONTROLLER = 10
    LOAD_CONTROLLER_BY_SUPPLIER = 11


class TimeBasedChecks(LenientIntEnum):
    """applyTimeBasedCPVChecks; absent means APPLY."""

    APPLY = 0
    DISAPPLY = 1


class StatusCode(LenientIntEnum):
    """RFC 5934 (TAMP) StatusCode, reused by GBCS for per-cell outcomes and CS02a details."""

    SUCCESS = 0
    DECODE_FAILURE = 1
    BAD_CONTENT_INFO = 2
    BAD_SIGNED_DATA = 3
    BAD_ENCAP_CONTENT = 4
    BAD_CERTIFICATE = 5
    BAD_SIGNER_INFO = 6
    BAD_SIGNED_ATTRS = 7
    BAD_UNSIGNED_ATTRS = 8
    MISSING_CONTENT = 9
    NO_TRUST_ANCHOR = 10
    NOT_AUTHORIZED = 11
    BAD_DIGEST_ALGORITHM = 12
    BAD_SIGNATURE_ALGORITHM = 13
    UNSUPPORTED_KEY_SIZE = 14
    UNSUPPORTED_PARAMETERS = 15
    SIGNATURE_FAILURE = 16
    INSUFFICIENT_MEMORY = 17
    UNSUPPORTED_TAMP_MSG_TYPE = 18
    APEX_TAMP_ANCHOR = 19
    IMPROPER_TA_ADDITION = 20
    SEQ_NUM_FAILURE = 21
    CONTINGENCY_PUBLIC_KEY_DECRYPT = 22
    INCORRECT_TARGET = 23
    COMMUNITY_UPDATE_FAILED = 24
    TRUST_ANCHOR_NOT_FOUND = 25
    UNSUPPORTED_TA_ALGORITHM = 26
    UNSUPPORTED_TA_KEY_SIZE = 27
    UNSUPPORTED_CONTIN_PUB_KEY_DECRYPT_ALG = 28
    MISSING_SIGNATURE = 29
    RESOURCES_BUSY = 30
    VERSION_NUMBER_MISMATCH = 31
    MISSING_POLICY_SET = 32
    REVOKED_CERTIFICATE = 33
    UNSUPPORTED_TRUST_ANCHOR_FORMAT = 34
    IMPROPER_TA_CHANGE = 35
    MALFORMED = 36
    CMS_ERROR = 37
    UNSUPPORTED_TARGET_IDENTIFIER = 38
    OTHER = 127


class Cs02cError(LenientIntEnum):
    """CS02c response error INTEGER."""

    INVALID_KEY_USAGE = 1
    KEY_PAIR_GENERATION_FAILED = 2
    CR_PRODUCTION_FAILED = 3


class Cs02dStatus(LenientIntEnum):
    """CS02d response INTEGER."""

    SUCCESS = 0
    INVALID_CERTIFICATE = 1
    WRONG_DEVICE_IDENTITY = 2
    INVALID_KEY_USAGE = 3
    NO_CORRESPONDING_KEY_PAIR_GENERATED = 4
    WRONG_PUBLIC_KEY = 5
    CERTIFICATE_STORAGE_FAILED = 6
    PRIVATE_KEY_CHANGE_FAILED = 7


class Cs02eError(LenientIntEnum):
    """CS02e response error INTEGER."""

    INVALID_KEY_USAGE = 1
    NO_CERTIFICATE_HELD = 2
    CERTIFICATE_RETRIEVAL_FAILURE = 3


#: CS02b/CS02g message code per replacement mode [RTDS: 0x0100 + mode for modes 0-9]
MODE_MESSAGE_CODE: dict[int, int] = {
    **{mode: 0x0100 + mode for mode in range(10)},
    ReplacementMode.LOAD_CONTROLLER_BY_LOAD_CONTROLLER: 0x0125,
    ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER: 0x0126,
}
MESSAGE_CODE_MODE: dict[int, int] = {code: mode for mode, code in MODE_MESSAGE_CODE.items()}

#: Future-dated Update Security Credentials alert message codes (CS02b, CS02g)
CS02B_ALERT_CODES = frozenset({0x00CB, 0x0124})
CS02A_CODES = frozenset({0x0008, 0x011B})  # CS02a and CS02f share the payload shape
CS02C_CODE = 0x000A
CS02D_CODE = 0x000B
CS02E_CODE = 0x000C

ALERT_FUTURE_DATED_SUCCESS = 0x8F66
ALERT_FUTURE_DATED_FAILURE = 0x8F67

#: executionDateTime that cancels a pending future-dated CS02b [RTDS]
CANCELLATION_TIME_TEXT = "99991231235959Z"


@dataclass(frozen=True)
class MessageCodeInfo:
    code: int
    use_case: str
    title: str

    @property
    def label(self) -> str:
        if self.use_case == "ALERT":
            return self.title
        return f"{self.use_case} {self.title}"


def _read_csv(name: str) -> list[list[str]]:
    text = resources.files("rig.gbcs").joinpath("data", name).read_text(encoding="utf-8")
    rows = csv.reader(line for line in text.splitlines() if line and not line.startswith("#"))
    return [row for row in rows if row]


@cache
def message_codes() -> dict[int, MessageCodeInfo]:
    """All GBCS message codes, keyed by code."""
    table = {}
    for code, use_case, *title in _read_csv("message_codes.csv"):
        value = int(code, 16)
        table[value] = MessageCodeInfo(value, use_case, ",".join(title))
    return table


@cache
def alert_codes() -> dict[int, str]:
    """GBCS alert and event codes, keyed by code."""
    return {int(code, 16): ",".join(name) for code, *name in _read_csv("alert_codes.csv")}


def message_code_label(code: int) -> str:
    info = message_codes().get(code)
    return info.label if info else f"unknown message code 0x{code:04X}"


def alert_code_label(code: int) -> str:
    return alert_codes().get(code, f"unknown alert code 0x{code:04X}")


def key_usage_label(value: int) -> str:
    flags = KeyUsage(value)
    names = [member.name.lower() for member in KeyUsage if member in flags]
    return "|".join(names) or "none"
