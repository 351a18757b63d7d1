"""APS fragmentation (ZigBee PRO): property tests over a channel that reorders, duplicates and loses.

A transfer is any ZCL TransferData up to the GBCS tunnel maximum (1500 octets of data plus the
5-octet ZCL header), cut into blocks of any size that keeps it within 255 blocks, sent in
windows of 1..8. Hypothesis draws the block order inside each window, duplicates, lost
blocks and lost ACKs (bounded).
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.transport import TransportError
from rig.transport.zigbee.aps_fragment import (
    MAX_BLOCKS,
    Ack,
    Block,
    FragmentTransferFailed,
    OutgoingTransfer,
    PayloadTooLarge,
    Reassembler,
    ReassemblyTimeout,
    split,
)
from rig.transport.zigbee.zcl import GBCS_MAX_TRANSFER_SIZE

#: TransferData's ZCL overhead: frame control, sequence, command id, tunnel id
ZCL_OVERHEAD = 5
MAX_APS_TRANSFER = GBCS_MAX_TRANSFER_SIZE + ZCL_OVERHEAD


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@st.composite
def transfers(draw):
    payload = draw(st.binary(min_size=0, max_size=MAX_APS_TRANSFER))
    smallest = max(1, -(-len(payload) // MAX_BLOCKS))
    block_size = draw(st.integers(min_value=smallest, max_value=max(smallest, 82)))
    window = draw(st.integers(min_value=1, max_value=8))
    return payload, block_size, window


def run_channel(payload: bytes, block_size: int, window: int, rng: random.Random, *, loss: float = 0.0,
                ack_loss: float = 0.0, max_losses_per_block: int = 0, retries: int = 3,
                always_lost: frozenset[int] = frozenset(), sent: Counter | None = None):
    """Drive a sender and a receiver through a hostile channel; returns (deliveries, sender, receiver)."""
    clock = Clock()
    tx = OutgoingTransfer(payload, block_size, window=window, retries=retries)
    rx = Reassembler(window=window, clock=clock, timeout=5.0)
    losses: dict[int, int] = {}
    delivered: list[bytes] = []
    batch = tx.pending()
    while not tx.complete:
        air = list(batch) + [rng.choice(batch) for _ in range(rng.randrange(3))]  # duplicates
        rng.shuffle(air)  # any order inside the window
        for block in batch:
            if sent is not None:
                sent[block.index] += 1
        acks: list[Ack] = []
        for block in air:
            lost = block.index in always_lost
            if not lost and losses.get(block.index, 0) < max_losses_per_block and rng.random() < loss:
                losses[block.index] = losses.get(block.index, 0) + 1
                lost = True
            if lost:
                continue
            ack, whole = rx.feed(block)
            if whole is not None:
                delivered.append(whole)
            if ack is not None and not (rng.random() < ack_loss and losses.get(-1, 0) < max_losses_per_block):
                acks.append(ack)
            elif ack is not None:
                losses[-1] = losses.get(-1, 0) + 1
        start = tx.window_start
        for ack in acks:
            tx.on_ack(ack)
        clock.now += 0.1
        if tx.complete:
            break
        batch = tx.pending() if tx.window_start != start else tx.on_timeout()
    return delivered, tx, rx


@settings(max_examples=120, deadline=None)
@given(transfers(), st.randoms(use_true_random=False))
def test_any_transfer_survives_any_order_and_duplicates(transfer, rng):
    payload, block_size, window = transfer
    delivered, tx, rx = run_channel(payload, block_size, window, rng)
    assert delivered == [payload]
    assert tx.complete and rx.delivered


@settings(max_examples=120, deadline=None)
@given(transfers(), st.randoms(use_true_random=False), st.floats(0.0, 0.6), st.floats(0.0, 0.6))
def test_losses_within_the_retries_are_repaired(transfer, rng, loss, ack_loss):
    """Every block (and the ACK stream) lost at most ``retries`` times: the transfer still completes, once."""
    payload, block_size, window = transfer
    delivered, tx, _rx = run_channel(payload, block_size, window, rng, loss=loss, ack_loss=ack_loss,
                                     max_losses_per_block=3, retries=3 * 2)
    assert delivered == [payload]
    assert tx.complete


@settings(max_examples=80, deadline=None)
@given(transfers(), st.randoms(use_true_random=False), st.data())
def test_a_block_lost_past_the_retries_is_a_typed_error_and_no_partial_frame(transfer, rng, data):
    payload, block_size, window = transfer
    total = len(split(payload, block_size))
    victim = data.draw(st.integers(0, total - 1))
    sent: Counter = Counter()
    with pytest.raises(FragmentTransferFailed) as failure:
        run_channel(payload, block_size, window, rng, always_lost=frozenset({victim}), retries=3, sent=sent)
    assert victim in failure.value.missing
    assert sent[victim] == 1 + 3  # the first try and exactly the retries, then the typed error
    assert isinstance(failure.value, TransportError)  # a link fault, never a meter fault


def test_the_receiver_drops_a_stalled_transfer_and_delivers_nothing():
    clock = Clock()
    rx = Reassembler(window=2, timeout=5.0, clock=clock)
    blocks = split(bytes(range(100)), 10)
    assert rx.feed(blocks[0]) == (None, None)
    ack, whole = rx.feed(blocks[1])
    assert ack == Ack(0, 0b11) and whole is None
    clock.now = 5.5
    with pytest.raises(ReassemblyTimeout):
        rx.feed(blocks[2])
    with pytest.raises(ReassemblyTimeout):  # and stays dead: no late completion from the old blocks
        for block in blocks:
            rx.feed(block)
    assert rx.blocks == {} and not rx.delivered


def test_out_of_window_and_inconsistent_blocks_are_ignored():
    rx = Reassembler(window=2)
    blocks = split(b"abcdefgh", 2)  # 4 blocks
    assert rx.feed(blocks[3]) == (None, None)  # outside the first window
    rx2 = Reassembler(window=2)
    rx2.feed(blocks[0])
    assert rx2.feed(Block(1, 7, b"cd")) == (None, None)  # later blocks must agree with the first one's count
    assert rx2.counts["inconsistent"] == 1 and rx.counts["out_of_window"] == 1


def test_a_duplicate_of_an_acknowledged_window_repeats_its_ack():
    rx = Reassembler(window=2)
    blocks = split(b"abcdef", 2)
    rx.feed(blocks[0])
    assert rx.feed(blocks[1]) == (Ack(0, 0b11), None)
    assert rx.feed(blocks[0]) == (Ack(0, 0b11), None)  # the sender missed our ACK
    assert rx.feed(blocks[2]) == (Ack(2, 0b01), b"abcdef")


def test_split_limits():
    assert split(b"", 10) == [Block(0, 1, b"")]
    assert len(split(bytes(255 * 4), 4)) == MAX_BLOCKS
    with pytest.raises(PayloadTooLarge):
        split(bytes(255 * 4 + 1), 4)
    with pytest.raises(ValueError):
        OutgoingTransfer(b"x", 1, window=9)
