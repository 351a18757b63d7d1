"""APS fragmentation and reassembly as ZigBee PRO defines it (R22 2.2.8.4.5), for GBCS tunnel transfers.

Why here and not in the NCP: a CS02b TransferData is 1-2 KB, one APS payload on 802.15.4 is
well under 100 octets, and an EZSP frame is at most ~200 octets, so a transfer can never
reach the NCP in one piece. EmberZNet does APS fragmentation on the *host* (its
"fragmentation" plugin runs in the host application; EZSP only carries one fragment per
``sendUnicast`` with ``APS_OPTION_FRAGMENT`` set and the block number and block count packed
into the APS frame's ``groupId`` field, and reports each fragment's APS acknowledgement as
one ``messageSentHandler``). bellows (1.2.x) reassembles inbound fragments for the host but
offers nothing for sending. So the rig fragments outbound transfers itself with
``OutgoingTransfer``; the emulated NCP uses ``Reassembler`` as the remote node's APS layer.

The protocol, as modelled here:

* a payload is cut into ``block_size`` blocks, numbered 0..N-1 (N <= 255: the block number
  is one octet; the first block carries N in its extended header, the others their number);
* blocks travel in windows of ``window`` (apsMaxWindowSize, 1..8) consecutive blocks; the
  receiver acknowledges a window with one APS ACK naming the window's first block and a
  bitfield (bit i: block first+i received); blocks outside the current window are ignored,
  duplicates are ignored (and answered with the current ACK, so a lost ACK is repaired);
* the sender re-sends the unacknowledged blocks of a window when no complete ACK arrives in
  time, at most ``retries`` times (apsMaxFrameRetries, 3); after that the transfer fails with
  ``FragmentTransferFailed``, never delivering a part;
* the receiver drops a transfer that does not complete within ``timeout`` seconds of its
  last progress (``ReassemblyTimeout``) and delivers nothing of it.

Pure state machines: no I/O, no threads, an injectable clock.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..base import TransportError

#: apsMaxWindowSize range and the SE default (one block per window, ZigBee PRO's default)
MAX_WINDOW = 8
DEFAULT_WINDOW = 1
#: apsMaxFrameRetries (ZigBee PRO default)
DEFAULT_RETRIES = 3
#: the block number field is one octet
MAX_BLOCKS = 255
#: octets the APS extended header (extended frame control, block number) takes from a fragment
EXTENDED_HEADER = 2
#: how long a receiver keeps a partial transfer without progress (seconds)
DEFAULT_REASSEMBLY_TIMEOUT = 10.0


class FragmentError(TransportError):
    """An APS fragmented transfer went wrong (a link fault, never a meter fault)."""


class FragmentTransferFailed(FragmentError):
    """Blocks were still unacknowledged after every retry: nothing of the transfer counts as sent."""

    def __init__(self, message: str, missing: tuple[int, ...]):
        super().__init__(message)
        self.missing = missing


class ReassemblyTimeout(FragmentError):
    """A partial transfer was dropped: it made no progress within the reassembly timeout."""


class PayloadTooLarge(FragmentError):
    """The payload needs more than 255 blocks of the given size."""


@dataclass(frozen=True)
class Block:
    """One APS fragment: its number, the transfer's block count and its octets."""

    index: int
    total: int
    data: bytes


@dataclass(frozen=True)
class Ack:
    """One APS ACK for fragments: the window's first block and the received-blocks bitfield."""

    first: int
    bitfield: int

    def blocks(self) -> list[int]:
        return [self.first + i for i in range(MAX_WINDOW) if self.bitfield >> i & 1]


def split(payload: bytes, block_size: int) -> list[Block]:
    """``payload`` as numbered blocks of at most ``block_size`` octets (an empty payload is one empty block)."""
    if block_size < 1:
        raise ValueError(f"block size must be positive, not {block_size}")
    chunks = [payload[i:i + block_size] for i in range(0, len(payload), block_size)] or [b""]
    if len(chunks) > MAX_BLOCKS:
        raise PayloadTooLarge(f"{len(payload)} octets need {len(chunks)} blocks of {block_size}; at most {MAX_BLOCKS}")
    return [Block(i, len(chunks), chunk) for i, chunk in enumerate(chunks)]


def _check_window(window: int) -> int:
    if not 1 <= window <= MAX_WINDOW:
        raise ValueError(f"APS window size is 1..{MAX_WINDOW}, not {window}")
    return window


class OutgoingTransfer:
    """The sender's side of one fragmented transfer; see the module docstring.

    Use: ``pending()`` gives the blocks to (re)transmit now; feed every ACK to ``on_ack``;
    when a window's ACK is overdue call ``on_timeout`` (it raises ``FragmentTransferFailed``
    once the retries are spent); ``complete`` is true when every block is acknowledged.
    """

    def __init__(self, payload: bytes, block_size: int, *, window: int = DEFAULT_WINDOW, retries: int = DEFAULT_RETRIES):
        self.blocks = split(payload, block_size)
        self.window = _check_window(window)
        self.retries = retries
        self.acked: set[int] = set()
        self.window_start = 0
        self.attempts = 0  # retransmissions of the current window so far
        self.counts: Counter[str] = Counter()

    @property
    def complete(self) -> bool:
        return len(self.acked) == len(self.blocks)

    def _window(self) -> range:
        return range(self.window_start, min(self.window_start + self.window, len(self.blocks)))

    def pending(self) -> list[Block]:
        """Unacknowledged blocks of the current window, in order."""
        return [self.blocks[i] for i in self._window() if i not in self.acked]

    def on_ack(self, ack: Ack) -> None:
        """Mark the blocks ``ack`` names (ACKs for other windows only fill in what they name)."""
        for index in ack.blocks():
            if 0 <= index < len(self.blocks):
                self.acked.add(index)
        self.counts["acks"] += 1
        while not self.complete and all(i in self.acked for i in self._window()):
            self.window_start += self.window
            self.attempts = 0

    def on_timeout(self) -> list[Block]:
        """The current window's ACK is overdue: the blocks to send again, or ``FragmentTransferFailed``."""
        missing = tuple(block.index for block in self.pending())
        if not missing:
            return []
        if self.attempts >= self.retries:
            self.counts["failed"] += 1
            raise FragmentTransferFailed(f"blocks {list(missing)} of {len(self.blocks)} unacknowledged after "
                                         f"{self.retries} retries", missing)
        self.attempts += 1
        self.counts["retransmissions"] += 1
        return self.pending()


class Reassembler:
    """The receiver's side of one fragmented transfer; see the module docstring.

    ``feed`` returns ``(ack, payload)``: the ACK to send now (or None) and the whole payload
    once the last block is in (exactly once). ``check(now)`` raises ``ReassemblyTimeout``
    when the transfer stalled; after that it accepts nothing more.
    """

    def __init__(self, *, window: int = DEFAULT_WINDOW, timeout: float = DEFAULT_REASSEMBLY_TIMEOUT,
                 clock: Callable[[], float] | None = None):
        self.window = _check_window(window)
        self.timeout = timeout
        self._clock = clock or time.monotonic
        self.total: int | None = None
        self.blocks: dict[int, bytes] = {}
        self.window_start = 0
        self.delivered = False
        self.expired = False
        self.last_progress = self._clock()
        self.counts: Counter[str] = Counter()

    def _window(self) -> range:
        end = self.window_start + self.window
        return range(self.window_start, end if self.total is None else min(end, self.total))

    def _ack(self) -> Ack:
        bits = 0
        for offset, index in enumerate(self._window()):
            if index in self.blocks:
                bits |= 1 << offset
        return Ack(self.window_start, bits)

    def _window_done(self) -> bool:
        return self.total is not None and all(i in self.blocks for i in self._window())

    def check(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        if not self.delivered and not self.expired and now - self.last_progress > self.timeout:
            self.expired = True
            self.blocks.clear()
            self.counts["timeouts"] += 1
        if self.expired:
            raise ReassemblyTimeout(f"transfer of {self.total or '?'} blocks stalled for more than {self.timeout}s")

    def feed(self, block: Block) -> tuple[Ack | None, bytes | None]:
        self.check()
        if block.total < 1 or block.total > MAX_BLOCKS or block.index >= block.total or (
                self.total is not None and block.total != self.total):
            self.counts["inconsistent"] += 1
            return None, None
        if self.delivered or block.index < self.window_start:  # a retransmission of an acknowledged window: its ACK was lost
            self.counts["duplicates"] += 1
            start = block.index - (block.index % self.window)
            return Ack(start, (1 << self.window) - 1), None
        if block.index not in self._window():
            self.counts["out_of_window"] += 1
            return None, None
        if block.index in self.blocks:
            self.counts["duplicates"] += 1
            return self._ack(), None  # the sender is retrying: tell it what is still missing
        self.total = block.total
        self.blocks[block.index] = block.data
        self.last_progress = self._clock()
        if not self._window_done():
            return None, None
        ack = self._ack()
        if self.window_start + self.window >= self.total:
            self.delivered = True
            payload = b"".join(self.blocks[i] for i in range(self.total))
            self.blocks.clear()
            self.window_start = self.total + (-self.total % self.window)
            return ack, payload
        self.window_start += self.window
        return ack, None
