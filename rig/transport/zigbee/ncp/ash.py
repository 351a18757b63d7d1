"""ASH (Silicon Labs UG101, "Asynchronous Serial Host"), the NCP's end: frames, CRC, stuffing, randomisation.

A frame on the wire is ``control | data | CRC`` with reserved octets escaped, then a Flag:

* CRC: CRC-CCITT (polynomial 0x1021, initial value 0xFFFF), over control and data, sent
  high octet first;
* byte stuffing: the reserved octets Flag 0x7E, Escape 0x7D, XON 0x11, XOFF 0x13,
  Substitute 0x18 and Cancel 0x1A are sent as Escape followed by the octet XOR 0x20;
* data randomisation: a DATA frame's data field is XORed with a fixed pseudo-random
  sequence (an 8-bit LFSR seeded with 0x42: shift right, XOR 0xB8 when the bit shifted out
  was 1), so long runs of reserved octets are rare;
* control octets: DATA ``0 frmNum(3) reTx(1) ackNum(3)``, ACK ``100 res nRdy ackNum(3)``,
  NAK ``101 res nRdy ackNum(3)``, RST 0xC0, RSTACK 0xC1 (version 2, reset code),
  ERROR 0xC2 (version 2, error code);
* on the line: Cancel discards the frame in progress, Substitute marks it bad up to the next
  Flag, XON and XOFF are ignored (no software flow control on a pty).

``AshReader`` is the receiving side (bytes in, ``AshFrame``s and counted errors out);
``encode`` builds the octets of one frame. No I/O and no timers: ``link.py`` has those.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL = 0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A
RESERVED = frozenset({FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL})
ESCAPE_XOR = 0x20
ASH_VERSION = 2
#: EZSP frames are at most this long (the randomisation sequence covers them)
MAX_DATA = 220


class ResetCode(enum.IntEnum):
    """The NCP reset and error codes this emulator sends (UG101 table 4)."""

    UNKNOWN_REASON = 0x00
    EXTERNAL = 0x01
    POWER_ON = 0x02
    WATCHDOG = 0x03
    ASSERT = 0x06
    BOOTLOADER = 0x09
    SOFTWARE = 0x0B
    EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT = 0x51


def crc_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-CCITT as ASH uses it (bitwise; frames are short)."""
    for octet in data:
        crc ^= octet << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _pseudo_random(length: int) -> bytes:
    out = bytearray()
    value = 0x42
    for _ in range(length):
        out.append(value)
        value = (value >> 1) ^ 0xB8 if value & 1 else value >> 1
    return bytes(out)


RANDOM_SEQUENCE = _pseudo_random(256)


def randomise(data: bytes) -> bytes:
    """XOR with the pseudo-random sequence (its own inverse)."""
    if len(data) > len(RANDOM_SEQUENCE):
        raise ValueError(f"an ASH DATA field is at most {len(RANDOM_SEQUENCE)} octets, not {len(data)}")
    return bytes(a ^ b for a, b in zip(data, RANDOM_SEQUENCE, strict=False))


def stuff(data: bytes) -> bytes:
    out = bytearray()
    for octet in data:
        if octet in RESERVED:
            out += bytes((ESCAPE, octet ^ ESCAPE_XOR))
        else:
            out.append(octet)
    return bytes(out)


def unstuff(data: bytes) -> bytes:
    out = bytearray()
    escaped = False
    for octet in data:
        if escaped:
            out.append(octet ^ ESCAPE_XOR)
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(octet)
    if escaped:
        raise ValueError("frame ends with an Escape octet")
    return bytes(out)


class Kind(enum.Enum):
    DATA = "DATA"
    ACK = "ACK"
    NAK = "NAK"
    RST = "RST"
    RSTACK = "RSTACK"
    ERROR = "ERROR"


@dataclass(frozen=True)
class AshFrame:
    """One decoded frame; fields a kind does not use are 0 / False / empty."""

    kind: Kind
    frm_num: int = 0
    ack_num: int = 0
    re_tx: bool = False
    not_ready: bool = False
    data: bytes = b""  # DATA: the EZSP frame (de-randomised); RSTACK/ERROR: version and code
    code: int = 0


def encode(frame: AshFrame) -> bytes:
    """The octets of ``frame`` on the wire, stuffed and ending with a Flag."""
    if frame.kind is Kind.DATA:
        body = bytes([(frame.frm_num & 7) << 4 | int(frame.re_tx) << 3 | (frame.ack_num & 7)]) + randomise(frame.data)
    elif frame.kind in (Kind.ACK, Kind.NAK):
        base = 0x80 if frame.kind is Kind.ACK else 0xA0
        body = bytes([base | int(frame.not_ready) << 3 | (frame.ack_num & 7)])
    elif frame.kind is Kind.RST:
        body = b"\xc0"
    else:
        body = bytes([0xC1 if frame.kind is Kind.RSTACK else 0xC2, ASH_VERSION, frame.code])
    return stuff(body + crc_ccitt(body).to_bytes(2, "big")) + bytes([FLAG])


def decode(body: bytes) -> AshFrame:
    """One unstuffed frame (control, data, CRC) -> ``AshFrame``; ``ValueError`` when it is not one."""
    if len(body) < 3:
        raise ValueError(f"frame too short ({len(body)} octets)")
    if crc_ccitt(body[:-2]).to_bytes(2, "big") != body[-2:]:
        raise ValueError("CRC mismatch")
    control, data = body[0], body[1:-2]
    if control & 0x80 == 0:
        return AshFrame(Kind.DATA, frm_num=control >> 4 & 7, re_tx=bool(control & 0x08), ack_num=control & 7,
                        data=randomise(data))
    if control & 0xE0 in (0x80, 0xA0):
        if data:
            raise ValueError("ACK/NAK with a data field")
        kind = Kind.ACK if control & 0xE0 == 0x80 else Kind.NAK
        return AshFrame(kind, ack_num=control & 7, not_ready=bool(control & 0x08))
    if control == 0xC0 and not data:
        return AshFrame(Kind.RST)
    if control in (0xC1, 0xC2) and len(data) == 2:
        return AshFrame(Kind.RSTACK if control == 0xC1 else Kind.ERROR, data=data, code=data[1])
    raise ValueError(f"unknown control octet 0x{control:02X}")


class AshReader:
    """Splits the byte stream at Flags and decodes frames; damaged ones are counted, never raised.

    ``feed`` returns ``(frames, rejected)``: the good frames in order, and how many DATA
    frames were damaged (the caller answers those with a NAK, as the protocol wants).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._discarding = False
        self.counts: Counter[str] = Counter()

    def feed(self, data: bytes) -> tuple[list[AshFrame], int]:
        frames: list[AshFrame] = []
        rejected = 0
        for octet in data:
            if octet == CANCEL:
                self._buffer.clear()
                self._discarding = False
                self.counts["cancelled"] += 1
            elif octet == SUBSTITUTE:
                self._discarding = True
            elif octet in (XON, XOFF):
                continue
            elif octet == FLAG:
                body, discarding = bytes(self._buffer), self._discarding
                self._buffer.clear()
                self._discarding = False
                if not body or discarding:
                    continue
                try:
                    frames.append(decode(unstuff(body)))
                except ValueError:
                    self.counts["bad_frames"] += 1
                    if body[0] & 0x80 == 0:
                        rejected += 1
            elif len(self._buffer) < 2 * (MAX_DATA + 4):
                self._buffer.append(octet)
            else:  # a runaway frame without a Flag: drop it
                self._buffer.clear()
                self._discarding = True
                self.counts["oversized"] += 1
        return frames, rejected
