"""Helpers for the construct emitters of our own construct classes.

construct 2.10.70 compiles a schema by asking every node for a Python expression
(``_emitparse``/``_emitbuild``); a node without emitters is linked in as an interpreted object and
drags its whole subtree back to interpreted speed. Every construct class in ``rig.gbcs`` therefore
has emitters, built with the helpers below:

* ``prelude`` imports our runtime functions into the generated module once;
* ``ref`` makes a Python object (a dataclass, a default value, a table) reachable from generated
  code under a stable module-level name;
* ``define`` appends a generated function and returns its name.

A deterministic test counts ``linkedinstances[`` in every compiled schema's source, so an
accidental interpreted fallback cannot creep in.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from construct.core import CodeGen

#: objects reachable from generated code, by their number; kept alive for the process lifetime
OBJECTS: dict[int, Any] = {}
#: ``id`` of each object in ``OBJECTS`` -> its number. Numbers, not ids, name objects in generated
#: code, so the same schema compiled in another process gives the same source (its bytecode can
#: then be cached: ``bytecode_cache``); an object in ``OBJECTS`` stays alive, so its id is never reused
_NUMBERS: dict[int, int] = {}

_PRELUDE = """
from rig.gbcs.compiling import OBJECTS, make
from rig.gbcs.streams import (
    CodecError, read_length, push_region, pop_region, read_exact, peek_byte,
    open_element, close_element, reserve_slot, length_at_slot,
)
from rig.gbcs import der as _der
from rig.gbcs import fields as _fields
_new = object.__new__
_from_bytes = int.from_bytes
"""


def prelude(code: CodeGen) -> None:
    """Import the runtime into the generated module (deduplicated by CodeGen)."""
    code.append(_PRELUDE)


def ref(code: CodeGen, obj: Any) -> str:
    """Module-level name under which generated code reaches ``obj``."""
    prelude(code)
    number = _NUMBERS.get(id(obj))
    if number is None:
        number = _NUMBERS[id(obj)] = len(OBJECTS)
        OBJECTS[number] = obj
    name = f"_obj_{number}"
    code.append(f"{name} = OBJECTS[{number}]")
    return name


def define(code: CodeGen, kind: str, body_lines: list[str], params: str) -> str:
    """Append ``def <kind>_<n>(<params>):`` with ``body_lines``; return the function name."""
    prelude(code)
    name = f"{kind}_{code.allocateId()}"
    text = f"def {name}({params}):\n" + "\n".join("    " + line for line in body_lines)
    code.append(text)
    return name


def join_path(path: str | None, name: str) -> str:
    """construct-style field path used in interpreted-mode errors."""
    return f"{path} -> {name}" if path else name


def make(cls: type, values: dict[str, Any]) -> Any:
    """An instance of dataclass ``cls`` with exactly ``values`` as its fields: what
    ``cls(**values)`` gives, without a keyword call through its ``__init__`` (a frozen dataclass
    sets each field through ``object.__setattr__``). Generated code uses it only where
    ``can_make`` said so at compile time."""
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def fast_init(cls: type) -> type:
    """Give a frozen dataclass an ``__init__`` that fills the instance dict directly.

    Why: a frozen dataclass's generated ``__init__`` sets each field through
    ``object.__setattr__``, one call per field (a ``Message`` took ~2.6 us, a third of encoding a
    CS02b response); the emulator and the DCC build these values for every command. The new
    ``__init__`` has the generated one's signature (same names, order and defaults) and gives the
    same instance; the class stays frozen. Only for the classes ``make`` can build: no
    ``__post_init__``, no slots, every field an init field with a plain default or none.
    """
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    if hasattr(cls, "__post_init__") or "__slots__" in vars(cls) or "self" in names or "_values" in names \
            or any(not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"fast_init cannot build {cls.__name__}")
    defaults: dict[str, Any] = {}
    params = []
    for f in fields:
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            defaults[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    lines = [f"def __init__(self, {', '.join(params)}):", "    _values = self.__dict__"]
    lines += [f"    _values[{name!r}] = {name}" for name in names]
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), defaults, namespace)  # source made from the field names alone
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init
    return cls


def can_make(cls: Any, names: list[str]) -> bool:
    """``make`` builds ``cls`` from these field names exactly as its ``__init__`` would: a plain
    dataclass (no ``__post_init__``, no slots, every field an init field) and every field given."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)) or hasattr(cls, "__post_init__") \
            or "__slots__" in vars(cls):
        return False
    fields = dataclasses.fields(cls)
    return all(f.init for f in fields) and sorted(f.name for f in fields) == sorted(names) \
        and len(set(names)) == len(names)


def construction(code: CodeGen, cls: Any, pairs: list[tuple[str, str]]) -> str:
    """Expression building ``cls`` from ``(field name, expression)`` pairs in generated code."""
    name = ref(code, cls)
    if can_make(cls, [field for field, _ in pairs]):
        return f"make({name}, {{{', '.join(f'{field!r}: {value}' for field, value in pairs)}}})"
    return f"{name}({', '.join(f'{field}={value}' for field, value in pairs)})"
