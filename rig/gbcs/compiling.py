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

from typing import Any

from construct.core import CodeGen

#: objects reachable from generated code, keyed by ``id``; kept alive for the process lifetime
OBJECTS: dict[int, Any] = {}

_PRELUDE = """
from rig.gbcs.compiling import OBJECTS
from rig.gbcs.streams import (
    CodecError, read_length, push_region, pop_region, read_exact, peek_byte,
    open_element, close_element, reserve_slot, length_at_slot,
)
from rig.gbcs import der as _der
from rig.gbcs import fields as _fields
"""


def prelude(code: CodeGen) -> None:
    """Import the runtime into the generated module (deduplicated by CodeGen)."""
    code.append(_PRELUDE)


def ref(code: CodeGen, obj: Any) -> str:
    """Module-level name under which generated code reaches ``obj``."""
    prelude(code)
    key = id(obj)
    OBJECTS[key] = obj
    name = f"_obj_{key}"
    code.append(f"{name} = OBJECTS[{key}]")
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
