"""Checksums used by the serial framings, as small pure functions.

CRC-16/X.25 is the HDLC frame check sequence of IEC 62056-46 (the RFC 1662 FCS): reflected
polynomial 0x1021 (0x8408 bit-reversed), initial value 0xFFFF, final XOR 0xFFFF, sent least
significant byte first. Its catalogue check value (CRC of ``b"123456789"``) is 0x906E.
CRC-32 is the IEEE 802.3 / zlib CRC (check value 0xCBF43926), used by the length-prefixed
framing because a 32-bit check suits frames of several kilobytes.
"""

from __future__ import annotations

import zlib

_X25_POLY_REFLECTED = 0x8408


def _x25_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _X25_POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_X25_TABLE = _x25_table()


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 of ``data`` (the value; ``fcs_bytes`` gives its wire order)."""
    crc = 0xFFFF
    table = _X25_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def fcs_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """The two check octets HDLC appends after ``data``: CRC-16/X.25, low byte first."""
    return crc16_x25(data).to_bytes(2, "little")


def crc32(data: bytes | bytearray | memoryview) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF
