"""Which payload schema decodes which (CRA flag, message code): a table, not an if-chain.

Payloads of use cases not listed here are kept as opaque bytes and round-trip untouched.
"""

from __future__ import annotations

from construct import Construct

from .frame import payload_key
from .payloads import cs02
from .tables import (
    CS02A_CODES,
    CS02B_ALERT_CODES,
    CS02C_CODE,
    CS02D_CODE,
    CS02E_CODE,
    MODE_MESSAGE_CODE,
    CraFlag,
)

_C, _R, _A = CraFlag.COMMAND, CraFlag.RESPONSE, CraFlag.ALERT

_ROWS: list[tuple[CraFlag, frozenset[int] | tuple[int, ...], Construct]] = [
    (_C, tuple(MODE_MESSAGE_CODE.values()), cs02.CS02B_COMMAND),
    (_R, tuple(MODE_MESSAGE_CODE.values()), cs02.CS02B_RESPONSE),
    (_A, CS02B_ALERT_CODES, cs02.CS02B_ALERT),
    (_C, CS02A_CODES, cs02.CS02A_COMMAND),
    (_R, CS02A_CODES, cs02.CS02A_RESPONSE),
    (_C, (CS02C_CODE,), cs02.KEY_USAGE_REQUEST),
    (_R, (CS02C_CODE,), cs02.CS02C_RESPONSE),
    (_C, (CS02D_CODE,), cs02.CS02D_COMMAND),
    (_R, (CS02D_CODE,), cs02.CS02D_RESPONSE),
    (_C, (CS02E_CODE,), cs02.KEY_USAGE_REQUEST),
    (_R, (CS02E_CODE,), cs02.CS02E_RESPONSE),
]

#: payload key -> schema
PAYLOAD_SCHEMAS: dict[int, Construct] = {
    payload_key(cra, code): schema for cra, codes, schema in _ROWS for code in codes
}


def schema_for(cra_flag: int, message_code: int) -> Construct | None:
    return PAYLOAD_SCHEMAS.get(payload_key(cra_flag, message_code))
