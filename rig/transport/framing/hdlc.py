"""HDLC framing as DLMS/COSEM meters use it on serial ports (IEC 62056-46, the Green Book).

One link frame on the wire::

    7E | frame format (2) | destination (1-4) | source (1-4) | control (1) | HCS (2) | information | FCS (2) | 7E

* Frame format field: type 3 (high nibble 0xA), the segmentation bit S (0x0800) and an 11-bit
  length counting every octet between the flags. Because the length delimits the frame,
  DLMS HDLC does no byte stuffing: 0x7E may appear inside a frame.
* Addresses use HDLC extension addressing: seven address bits per octet, shifted left, the
  low bit set only on the last octet. Client addresses are one octet; server addresses are
  one, two or four octets (upper = logical device, lower = physical device).
* HCS is present only when there is an information field and covers format field to
  control; FCS covers format field to the end of the information field. Both are
  CRC-16/X.25, low octet first.
* A GBCS frame longer than the maximum information field length is sent as several
  I-frames; every segment but the last has S set, and the receiver joins them.

What this module does not do, deliberately: the HDLC connection procedure (SNRM/UA, DISC)
and the RR acknowledgements a DLMS client exchanges between segments. The rig's own serial
test ports are point to point and always connected; segments are sent back to back, and
S/U frames that arrive are counted and ignored. A lab meter that insists on SNRM needs a
station layer on top of this codec. The LLC header (E6 E6 00 to the server, E6 E7 00 to the
client) prefixes each reassembled information field, as DLMS puts it before every APDU.

Resynchronisation: a candidate frame is abandoned (one octet skipped, the rest rescanned)
when its format type, addresses, HCS, closing flag or FCS are wrong. The HCS is checked as
soon as the header has arrived, so a corrupted length cannot hold up the link for long; a
candidate still short of bytes is abandoned by ``idle()``.

Reassembly relies on the send sequence number N(S) that every I-frame carries (mod 8): a
gap means link frames were lost, so a half-received message is dropped, and a new message
is accepted only from a segment that starts with the LLC header (or, without LLC, after the
peer's next final segment). Noise between frames costs nothing; the tail of a damaged
message is not passed on as a message of its own. The limit of any start-marker scheme
remains: a continuation segment whose first octets happen to equal the LLC header (odds
2^-24 per segment for random data) after exactly such a loss would be taken for a start;
the GBCS decoder above rejects what results, since it is not a whole GBCS frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Framer
from .crc import fcs_bytes

FLAG = 0x7E
FORMAT_TYPE_3 = 0xA
SEGMENTATION_BIT = 0x0800
LENGTH_MASK = 0x07FF
MAX_FRAME_LENGTH = LENGTH_MASK
#: IEC 62056-46 default maximum information field length (both directions)
DEFAULT_MAX_INFO_LENGTH = 128
#: LLC headers (destination LSAP, source LSAP, quality): to the server, to the client
LLC_TO_SERVER = b"\xe6\xe6\x00"
LLC_TO_CLIENT = b"\xe6\xe7\x00"
#: reassembled messages longer than this are dropped (a GBCS frame is a few kilobytes)
MAX_MESSAGE_LENGTH = 65536
_MAX_ADDRESS_OCTETS = 4
#: format (2) + destination (1) + source (1) + control (1) + FCS (2)
_MIN_FRAME_LENGTH = 7
#: modulus of the I-frame send and receive sequence numbers
_SEQUENCE_MODULUS = 8


@dataclass(frozen=True)
class HdlcAddress:
    """An HDLC address: its value (seven bits per octet, concatenated) and octet count."""

    value: int
    size: int = 1

    def __post_init__(self) -> None:
        if self.size not in (1, 2, 4):
            raise ValueError(f"HDLC addresses are 1, 2 or 4 octets, not {self.size}")
        if not 0 <= self.value < 1 << (7 * self.size):
            raise ValueError(f"address {self.value:#x} does not fit {self.size} octet(s)")

    @classmethod
    def client(cls, address: int) -> HdlcAddress:
        return cls(address, 1)

    @classmethod
    def server(cls, upper: int, lower: int | None = None, size: int = 2) -> HdlcAddress:
        """Server address from the logical device (upper) and physical device (lower) parts."""
        if size == 1 or lower is None:
            return cls(upper, 1)
        half = 7 * size // 2
        if not (0 <= upper < 1 << half and 0 <= lower < 1 << half):
            raise ValueError(f"upper {upper:#x} / lower {lower:#x} do not fit a {size}-octet address")
        return cls((upper << half) | lower, size)

    def encode(self) -> bytes:
        groups = [(self.value >> (7 * (self.size - 1 - i))) & 0x7F for i in range(self.size)]
        octets = [group << 1 for group in groups]
        octets[-1] |= 1
        return bytes(octets)

    @classmethod
    def decode(cls, octets: bytes | bytearray) -> HdlcAddress:
        value = 0
        for octet in octets:
            value = (value << 7) | (octet >> 1)
        return cls(value, len(octets))

    def __str__(self) -> str:
        return f"{self.value:#x}/{self.size}"


#: defaults for the rig's test ports (the same as ``rig.config``'s ``HdlcAddresses``): public
#: client 0x10; server logical device 1 with no physical part (one-octet server address)
DEFAULT_CLIENT_ADDRESS = HdlcAddress.client(0x10)
DEFAULT_SERVER_ADDRESS = HdlcAddress.server(0x01)


def server_address(logical: int, physical: int | None = None) -> HdlcAddress:
    """The server address for a logical device and optional physical address (1, 2 or 4 octets)."""
    if physical is None:
        return HdlcAddress.server(logical)
    return HdlcAddress.server(logical, physical, 2 if logical < 0x80 and physical < 0x80 else 4)


def i_control(send_seq: int, recv_seq: int, poll_final: bool) -> int:
    """Control octet of an I-frame: N(R) in bits 7-5, P/F in bit 4, N(S) in bits 3-1, bit 0 clear."""
    return ((recv_seq % _SEQUENCE_MODULUS) << 5) | (int(poll_final) << 4) | ((send_seq % _SEQUENCE_MODULUS) << 1)


def is_i_frame(control: int) -> bool:
    return control & 0x01 == 0


def send_sequence(control: int) -> int:
    return (control >> 1) & 0x07


@dataclass(frozen=True)
class HdlcFrame:
    """One link frame (one segment of a message)."""

    destination: HdlcAddress
    source: HdlcAddress
    control: int
    info: bytes = b""
    segmented: bool = False

    def encode(self) -> bytes:
        """Flag, format, addresses, control, [HCS, information,] FCS, flag."""
        header_tail = self.destination.encode() + self.source.encode() + bytes((self.control,))
        length = 2 + len(header_tail) + 2 + (len(self.info) + 2 if self.info else 0)
        if length > MAX_FRAME_LENGTH:
            raise ValueError(f"HDLC frame of {length} octets exceeds the 11-bit length field")
        fmt = (FORMAT_TYPE_3 << 12) | (SEGMENTATION_BIT if self.segmented else 0) | length
        header = fmt.to_bytes(2, "big") + header_tail
        body = header + fcs_bytes(header) + self.info if self.info else header
        return bytes((FLAG,)) + body + fcs_bytes(body) + bytes((FLAG,))


class _Verdict:
    """Outcome of examining the candidate at the start of the buffer."""

    NEED_MORE = "need-more"
    REJECT = "reject"


class HdlcFramer(Framer):
    """IEC 62056-46 HDLC framer for one end of a point-to-point link.

    ``role`` is ``"client"`` (the rig, sending to a meter) or ``"server"`` (the emulator);
    it selects the LLC header sent and expected. ``local`` is this end's address (frames to
    other destinations are counted as ``foreign_frames`` and dropped), ``peer`` the other's.
    """

    name = "hdlc"
    error_counters: ClassVar[tuple[str, ...]] = ("crc_errors", "resyncs", "discarded_bytes", "header_errors",
                                                 "reassembly_errors", "discarded_segments")

    @classmethod
    def for_addresses(cls, role: str, client: int = 0x10, server: int = 0x01, physical: int | None = None,
                      **options) -> HdlcFramer:
        """From the three numbers a hw_config gives (client, server logical device, physical address)."""
        client_address, server_addr = HdlcAddress.client(client), server_address(server, physical)
        local, peer = (client_address, server_addr) if role == "client" else (server_addr, client_address)
        return cls(role, local=local, peer=peer, **options)

    def __init__(self, role: str = "client", *, local: HdlcAddress | None = None, peer: HdlcAddress | None = None,
                 max_info_length: int = DEFAULT_MAX_INFO_LENGTH, llc: bool = True):
        super().__init__()
        if role not in ("client", "server"):
            raise ValueError(f"role is 'client' or 'server', not {role!r}")
        if not 1 <= max_info_length <= MAX_FRAME_LENGTH - 2 - 2 * _MAX_ADDRESS_OCTETS - 1 - 4:
            raise ValueError(f"maximum information field length {max_info_length} is out of range")
        client, server = DEFAULT_CLIENT_ADDRESS, DEFAULT_SERVER_ADDRESS
        self.role = role
        self.local = local or (client if role == "client" else server)
        self.peer = peer or (server if role == "client" else client)
        self.max_info_length = max_info_length
        self.llc = llc
        self._llc_out = (LLC_TO_SERVER if role == "client" else LLC_TO_CLIENT) if llc else b""
        self._llc_in = (LLC_TO_CLIENT if role == "client" else LLC_TO_SERVER) if llc else b""
        self._send_seq = 0
        self._recv_seq = 0
        self._partial: bytearray | None = None
        #: N(S) the peer's next I-frame should carry; None until one has been seen
        self._expected_seq: int | None = None
        #: False after a gap in N(S) until a clean message start is recognised
        self._in_sync = False
        #: whether the peer's last I-frame ended a message (the start rule without LLC)
        self._last_final = True
        #: octets were discarded since the last good frame
        self._damaged = False
        for key in ("segments", "header_errors", "reassembly_errors", "discarded_segments", "foreign_frames",
                    "control_frames", "llc_errors"):
            self.counts[key] = 0

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, payload: bytes) -> bytes:
        info = self._llc_out + bytes(payload)
        chunks = [info[i:i + self.max_info_length] for i in range(0, len(info), self.max_info_length)] or [b""]
        out = bytearray()
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            control = i_control(self._send_seq, self._recv_seq, poll_final=last)
            self._send_seq = (self._send_seq + 1) % _SEQUENCE_MODULUS
            out += HdlcFrame(self.peer, self.local, control, chunk, segmented=not last).encode()
        return bytes(out)

    # -- decoding ----------------------------------------------------------------------------
    def _parse(self) -> list[bytes]:
        out: list[bytes] = []
        buf = self._buffer
        while buf:
            if buf[0] != FLAG:
                index = buf.find(FLAG)
                skipped = len(buf) if index < 0 else index
                del buf[:skipped]
                self.counts["discarded_bytes"] += skipped
                self._damaged = True
                continue
            if len(buf) < 2:
                break
            if buf[1] == FLAG:  # inter-frame fill, or the closing flag of the previous frame
                del buf[:1]
                continue
            verdict = self._examine()
            if verdict is _Verdict.NEED_MORE:
                break
            if verdict is _Verdict.REJECT:
                self._abandon_candidate()
                continue
            frame, consumed = verdict
            del buf[:consumed]  # keep the closing flag: it may open the next frame
            payload = self._accept(frame)
            if payload is not None:
                out.append(payload)
        return out

    @property
    def has_partial(self) -> bool:
        # a lone flag is the closing flag of the last frame, not a stalled candidate
        return len(self._buffer) > 1 or (len(self._buffer) == 1 and self._buffer[0] != FLAG)

    def _abandon_candidate(self) -> None:
        del self._buffer[:1]
        self.counts["resyncs"] += 1
        self._damaged = True

    def _header_error(self) -> str:
        self.counts["header_errors"] += 1
        return _Verdict.REJECT

    @staticmethod
    def _address_end(buf: bytearray, start: int) -> int | str | None:
        """Index after the address starting at ``start``; None if not all here; REJECT if too long."""
        for offset in range(_MAX_ADDRESS_OCTETS):
            if start + offset >= len(buf):
                return None
            if buf[start + offset] & 1:
                end = start + offset + 1
                return end if end - start in (1, 2, 4) else _Verdict.REJECT
        return _Verdict.REJECT

    def _examine(self):
        """Decide about the candidate at buffer[0] (a flag): NEED_MORE, REJECT or (frame, consumed)."""
        buf = self._buffer
        if buf[1] >> 4 != FORMAT_TYPE_3:
            return self._header_error()
        if len(buf) < 3:
            return _Verdict.NEED_MORE
        fmt = (buf[1] << 8) | buf[2]
        length = fmt & LENGTH_MASK
        if length < _MIN_FRAME_LENGTH:
            return self._header_error()
        dst_end = self._address_end(buf, 3)
        if dst_end is None:
            return _Verdict.NEED_MORE
        if dst_end is _Verdict.REJECT:
            return self._header_error()
        src_end = self._address_end(buf, dst_end)
        if src_end is None:
            return _Verdict.NEED_MORE
        if src_end is _Verdict.REJECT:
            return self._header_error()
        control_at = src_end
        header_len = control_at  # octets from the format field to the control field, inclusive
        if length < header_len + 2:
            return self._header_error()
        has_info = length > header_len + 2
        if has_info:
            if length < header_len + 2 + 2 + 1:
                return self._header_error()
            if len(buf) < control_at + 3:
                return _Verdict.NEED_MORE
            if buf[control_at + 1:control_at + 3] != fcs_bytes(buf[1:control_at + 1]):
                self.counts["crc_errors"] += 1
                return _Verdict.REJECT
        total = length + 2
        if len(buf) < total:
            return _Verdict.NEED_MORE
        if buf[total - 1] != FLAG:
            return self._header_error()
        if buf[total - 3:total - 1] != fcs_bytes(buf[1:total - 3]):
            self.counts["crc_errors"] += 1
            return _Verdict.REJECT
        info = bytes(buf[control_at + 3:total - 3]) if has_info else b""
        frame = HdlcFrame(HdlcAddress.decode(buf[3:dst_end]), HdlcAddress.decode(buf[dst_end:src_end]),
                          buf[control_at], info, bool(fmt & SEGMENTATION_BIT))
        return frame, total - 1

    # -- reassembly --------------------------------------------------------------------------
    def _accept(self, frame: HdlcFrame) -> bytes | None:
        self.counts["segments"] += 1
        if frame.destination != self.local:
            self.counts["foreign_frames"] += 1
            return None
        if not is_i_frame(frame.control):
            self.counts["control_frames"] += 1
            return None
        seq = send_sequence(frame.control)
        self._recv_seq = (seq + 1) % _SEQUENCE_MODULUS
        # before the first I-frame there is no N(S) to compare: damaged bytes stand in for a gap
        gap = seq != self._expected_seq if self._expected_seq is not None else self._damaged
        self._damaged = False
        if gap:
            # I-frames went missing: a half-built message is broken, and this frame may be
            # the tail of a message whose start was lost
            if self._partial is not None:
                self.counts["reassembly_errors"] += 1
                self._partial = None
            self._in_sync = False
            self._last_final = False
        self._expected_seq = (seq + 1) % _SEQUENCE_MODULUS
        if not self._in_sync:
            starts_message = frame.info.startswith(self._llc_in) if self._llc_in else self._last_final
            self._last_final = not frame.segmented
            if not starts_message:
                self.counts["discarded_segments"] += 1
                return None
            self._in_sync = True
        self._last_final = not frame.segmented
        if self._partial is None:
            self._partial = bytearray()
        self._partial += frame.info
        if len(self._partial) > MAX_MESSAGE_LENGTH:
            self.counts["reassembly_errors"] += 1
            self._partial = None
            self._in_sync = False
            return None
        if frame.segmented:
            return None
        message, self._partial = bytes(self._partial), None
        if self._llc_in:
            if not message.startswith(self._llc_in):
                self.counts["llc_errors"] += 1
                return None
            message = message[len(self._llc_in):]
        self.counts["frames"] += 1
        return message
