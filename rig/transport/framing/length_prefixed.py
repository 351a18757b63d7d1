"""The project's own simple framing for test ports: sync word, checked length, payload, CRC-32.

Layout (all integers big-endian)::

    offset  size  field
    0       2     sync word 0xA5 0xC3
    2       2     payload length N (0 .. max_payload)
    4       2     N XOR 0xFFFF (a length check, so a damaged length is rejected at once)
    6       N     payload (one GBCS frame)
    6+N     4     CRC-32 (IEEE 802.3, as zlib computes it) over octets 0 .. 6+N-1

Why this shape: the sync word lets the parser find a frame start after garbage; the
complemented length means a corrupted length field is caught in the six header octets,
rather than the parser waiting for thousands of octets that will never come; the CRC-32
over header and payload catches every corruption the HDLC FCS would and more, which
matters for frames of several kilobytes. There is no byte stuffing: the sync word may occur
inside a payload, which is harmless because a candidate frame is only accepted whole, with a
valid length check and CRC, and on any failure the parser skips one octet and rescans.
"""

from __future__ import annotations

from .base import Framer
from .crc import crc32

SYNC = b"\xa5\xc3"
HEADER_LENGTH = 6
CRC_LENGTH = 4
#: largest payload the length field can describe
MAX_PAYLOAD_LIMIT = 0xFFFF
DEFAULT_MAX_PAYLOAD = 16384


class LengthPrefixedFramer(Framer):
    """Sync word + checked 16-bit length + payload + CRC-32; see the module docstring."""

    name = "length-prefixed"

    def __init__(self, role: str = "client", *, max_payload: int = DEFAULT_MAX_PAYLOAD):
        super().__init__()
        if not 0 < max_payload <= MAX_PAYLOAD_LIMIT:
            raise ValueError(f"max_payload must be 1..{MAX_PAYLOAD_LIMIT}, not {max_payload}")
        self.role = role  # symmetric framing: kept for a uniform constructor
        self.max_payload = max_payload
        self.counts["header_errors"] = 0

    def encode(self, payload: bytes) -> bytes:
        payload = bytes(payload)
        if len(payload) > self.max_payload:
            raise ValueError(f"payload of {len(payload)} octets exceeds max_payload {self.max_payload}")
        size = len(payload)
        body = SYNC + size.to_bytes(2, "big") + (size ^ 0xFFFF).to_bytes(2, "big") + payload
        return body + crc32(body).to_bytes(4, "big")

    def _abandon_candidate(self) -> None:
        del self._buffer[:1]
        self.counts["resyncs"] += 1

    def _hunt(self) -> bool:
        """Drop octets before the next sync word; False when no complete sync word is buffered."""
        buf = self._buffer
        index = buf.find(SYNC)
        if index < 0:
            keep = 1 if buf[-1:] == SYNC[:1] else 0  # the first half of a sync word may follow
            skipped = len(buf) - keep
        else:
            skipped = index
        if skipped:
            del buf[:skipped]
            self.counts["discarded_bytes"] += skipped
        return index >= 0

    def _parse(self) -> list[bytes]:
        out: list[bytes] = []
        buf = self._buffer
        while buf:
            if not self._hunt():
                break
            if len(buf) < HEADER_LENGTH:
                break
            size = int.from_bytes(buf[2:4], "big")
            check = int.from_bytes(buf[4:6], "big")
            if size ^ check != 0xFFFF or size > self.max_payload:
                self.counts["header_errors"] += 1
                self._abandon_candidate()
                continue
            total = HEADER_LENGTH + size + CRC_LENGTH
            if len(buf) < total:
                break
            if int.from_bytes(buf[total - CRC_LENGTH:total], "big") != crc32(buf[:total - CRC_LENGTH]):
                self.counts["crc_errors"] += 1
                self._abandon_candidate()
                continue
            out.append(bytes(buf[HEADER_LENGTH:HEADER_LENGTH + size]))
            del buf[:total]
            self.counts["frames"] += 1
        return out
