"""``Message.evolve``: the hot-path ``dataclasses.replace`` must give exactly what replace gives."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from rig.gbcs import MacHeader, Message, decode, encode
from rig.gbcs.tables import CraFlag


def _message() -> Message:
    return Message(CraFlag.COMMAND, 7, bytes(range(8)), bytes(range(8, 16)), 0x0008, b"\x30\x00",
                   mac_header=MacHeader(), signature=bytes(64))


def test_evolve_is_replace():
    original = _message()
    for changes in ({}, {"signature": None}, {"mac_header": None, "precommand": False},
                    {"originator_counter": 8, "payload": b"\x30\x01\x00"}):
        evolved, replaced = original.evolve(**changes), replace(original, **changes)
        assert evolved == replaced and type(evolved) is Message and evolved is not original
        assert all(getattr(evolved, f.name) == getattr(replaced, f.name) for f in fields(Message))
    assert original.signature == bytes(64)  # the original is untouched


def test_evolve_keeps_the_uncompared_fields_and_refuses_unknown_ones():
    decoded = decode(encode(replace(_message(), message_code=0x7777)))  # an opaque payload
    assert decoded.evolve(signature=bytes(64)).layout == decoded.layout
    assert decoded.evolve(layout=None).layout is None
    with pytest.raises(TypeError, match="sigature"):
        decoded.evolve(sigature=None)
    with pytest.raises(AttributeError):
        decoded.evolve().signature = None  # still frozen
