"""``fast_init`` constructors against the ``__init__`` dataclasses would generate.

Every frozen value class of ``rig.gbcs`` (messages, CS02 payloads) gets an ``__init__`` that fills
the instance dict in one go; it must take exactly the generated one's arguments and give the
same instance, and the class must stay frozen.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from rig.gbcs import message as message_module
from rig.gbcs.compiling import fast_init
from rig.gbcs.payloads import cs02

CLASSES = [cls for module in (message_module, cs02) for cls in vars(module).values()
           if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__]


def generated_signature(cls: type) -> list[tuple[str, object]]:
    """What ``@dataclass`` would give ``__init__``: every field in order, with its default."""
    return [(f.name, f.default) for f in dataclasses.fields(cls)]


def test_every_value_class_has_the_fast_constructor():
    assert len(CLASSES) >= 20
    for cls in CLASSES:
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
        assert cls.__dataclass_params__.frozen, cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_the_constructor_takes_the_generated_arguments_and_builds_the_same_instance(cls):
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    expected = generated_signature(cls)
    assert [(p.name, p.default if p.default is not inspect.Parameter.empty else dataclasses.MISSING)
            for p in parameters] == expected
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)
    values = [object() for _ in expected]  # distinct markers: a swapped field shows
    by_position = cls(*values)
    by_name = cls(**{name: value for (name, _), value in zip(expected, values, strict=True)})
    want = {name: value for (name, _), value in zip(expected, values, strict=True)}
    assert vars(by_position) == want and vars(by_name) == want
    required = [name for name, default in expected if default is dataclasses.MISSING]
    defaulted = cls(*values[:len(required)])
    assert vars(defaulted) == {**want, **{name: default for name, default in expected
                                          if default is not dataclasses.MISSING}}
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(by_position, expected[0][0], None)
    with pytest.raises(TypeError):
        cls(*values, None)
    with pytest.raises(TypeError):
        cls(*values[:len(required)], no_such_field=1)
    if required:
        with pytest.raises(TypeError):
            cls(*values[:len(required) - 1])
    assert dataclasses.replace(by_position, **{expected[0][0]: 5}) == cls(5, *values[1:])


def test_fast_init_refuses_what_it_cannot_build():
    @dataclasses.dataclass(frozen=True)
    class Later:
        a: int

        def __post_init__(self):
            pass

    @dataclasses.dataclass(frozen=True)
    class Factory:
        a: list = dataclasses.field(default_factory=list)

    for cls in (Later, Factory):
        with pytest.raises(TypeError):
            fast_init(cls)


def test_decoded_cells_are_the_emulators_cell_instances():
    """A decoded trust anchor cell is the very object that keys the emulated device's cell table
    (``TrustAnchorCellId.canonical``), so the device's lookups need no field comparison."""
    from pathlib import Path

    from firmware_emu.device_types import CELLS, DeviceType
    from rig.gbcs import decode

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / \
        "CS02bSupplierBySupplier_IMMEDIATE_SUCCESS_COMMAND.hex"
    command = decode(bytes.fromhex("".join(sample.read_text().split()))).payload
    table = {cell: cell for cell in CELLS[DeviceType.ESME]}
    cells = [r.target_cell for r in command.replacements] + [command.control.authorising_cell]
    assert cells and all(cell in table for cell in cells)
    assert all(table[cell] is cell for cell in cells)


def test_canonical_cells_are_equal_shared_and_bounded(monkeypatch):
    from rig.gbcs import KeyUsage, RemotePartyRole, TrustAnchorCellId

    first = TrustAnchorCellId(RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE)
    again = TrustAnchorCellId(RemotePartyRole.SUPPLIER, KeyUsage.DIGITAL_SIGNATURE)
    assert first is not again
    assert TrustAnchorCellId.canonical(first) is TrustAnchorCellId.canonical(again)
    assert TrustAnchorCellId.canonical(again) == again
    monkeypatch.setattr(cs02, "_CANONICAL", {})
    monkeypatch.setattr(cs02, "_CANONICAL_MAX", 1)
    kept = TrustAnchorCellId.canonical(first)
    other = TrustAnchorCellId(RemotePartyRole.ROOT, KeyUsage.KEY_CERT_SIGN)
    assert kept is first and TrustAnchorCellId.canonical(other) is other and len(cs02._CANONICAL) == 1
