"""Inline emission for the compiled DER codec: one flat generated function per payload schema.

Why: a CS02 payload is dozens of small elements, and per element the helper calls, the region
push/pop and the ``make`` call cost more than the bytes' work (a 318-byte response took as long
to decode as a 1,888-byte command). A ``DerSequence`` therefore emits its whole subtree as
straight-line code over local variables, and each element's common form (short-form length,
one-octet INTEGER, the ``82 hh ll`` long form of certificates) is read or written in place.

Everything else (other length forms, every malformed input, types without an inline form) runs
the element's ordinary compiled expression, the runtime helper both codecs share, so the inline
code only ever takes a branch on which that helper gives the same value and side effects.

Names the generated parse code relies on: ``io``, ``this``, ``data`` (the frame bytes), ``pos``
(the cursor, written back to ``io.pos`` around helper calls), ``ends`` (``io.ends``, pushed only
around helper calls), ``log`` (``io.lenlog.append``). Build code: ``io`` (the ``BuildStream``),
``st`` (its state), ``plan`` (``st.plan``, ``()`` for none: both mean "no recorded form"),
``plen`` (its length), ``lfw`` (the style's long-form width), ``s`` (the next plan slot, written back to ``st.slot`` around helper
calls), ``out`` (``io.buffer``). A length is written short in place when it is below 128 and
its slot records no long form (``s >= plen or not plan[s]``), which is when ``length_at_slot``
writes it short.
"""

from __future__ import annotations

from typing import Any

from construct import Construct
from construct.core import CodeGen

from .compiling import can_make, construction, prelude, ref

#: ``bytes((tag, n))`` for every short-form length, per tag: an element header without a call
_SHORT_HEADERS: dict[int, tuple[bytes, ...]] = {}


def short_headers(tag: int) -> tuple[bytes, ...]:
    table = _SHORT_HEADERS.get(tag)
    if table is None:
        table = _SHORT_HEADERS[tag] = tuple(bytes((tag, n)) for n in range(0x80))
    return table


def fresh(code: CodeGen, stem: str) -> str:
    """A local name no other emission in the generated module uses."""
    return f"{stem}_{code.allocateId()}"


def indent(lines: list[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


# ---------------------------------------------------------------------------------------------
# parsing


def parse_lines(sc: Construct, code: CodeGen, target: str, limit: str) -> list[str]:
    """Lines that parse ``sc`` at ``pos`` within ``[pos, limit)`` into the local ``target``."""
    method = getattr(sc, "_inline_parse", None)
    if method is not None:
        return method(code, target, limit)
    return parse_fallback(sc, code, target, limit)


def parse_fallback(sc: Construct, code: CodeGen, target: str, limit: str) -> list[str]:
    """``sc``'s ordinary compiled expression, with the region and cursor it expects."""
    return [f"ends.append({limit})", "io.pos = pos", f"{target} = {sc._compileparse(code)}", "pos = io.pos",
            "ends.pop()"]


def header_lines(code: CodeGen, tag: int, what: str, end: str, limit: str) -> list[str]:
    """Read a constructed element's tag and length: ``end`` is its content end, ``pos`` its
    content start. Short form, ``81 ll`` and ``82 hh ll`` inline, as ``der.enter`` reads them."""
    return [
        f"if pos + 2 <= {limit} and data[pos] == {tag} and (n := data[pos + 1]) < 128 "
        f"and ({end} := pos + 2 + n) <= {limit}:",
        "    log(0)",
        "    pos += 2",
        f"elif pos + 3 <= {limit} and data[pos] == {tag} and data[pos + 1] == 129 "
        f"and pos + 3 + data[pos + 2] <= {limit}:",
        f"    {end} = pos + 3 + data[pos + 2]",
        "    log(1)",
        "    if data[pos + 2] < 128:",
        "        io.nonminimal = True",
        "    pos += 3",
        f"elif pos + 4 <= {limit} and data[pos] == {tag} and data[pos + 1] == 130 "
        f"and pos + 4 + (data[pos + 2] << 8 | data[pos + 3]) <= {limit}:",
        f"    {end} = pos + 4 + (data[pos + 2] << 8 | data[pos + 3])",
        "    log(2)",
        f"    if {end} - pos < 260:",  # a content length below 256 in two octets
        "        io.nonminimal = True",
        "    pos += 4",
        "else:",
        f"    ends.append({limit})",
        "    io.pos = pos",
        f"    {end} = _der.enter(io, {tag}, None, {what!r})",
        "    pos = io.pos",
        "    del ends[-2:]",
    ]


def close_lines(end: str, what: str) -> list[str]:
    """The element's content must be consumed exactly (``pop_region`` raises the error)."""
    return [f"if pos != {end}:", "    io.pos = pos", f"    pop_region(io, {end}, None, {what!r})"]


def construct_lines(code: CodeGen, cls: Any, pairs: list[tuple[str, str]], target: str) -> list[str]:
    """``target = cls(**pairs)`` by filling the instance dict when ``can_make`` allows it."""
    if not can_make(cls, [name for name, _ in pairs]):
        return [f"{target} = {construction(code, cls, pairs)}"]
    lines = [f"{target} = _new({ref(code, cls)})", f"_d = {target}.__dict__"]
    lines += [f"_d[{name!r}] = {value}" for name, value in pairs]
    return lines


def parse_function(code: CodeGen, sc: Construct) -> str:
    """A function ``(io, this)`` that parses ``sc`` inline; returns the call expression."""
    prelude(code)
    result = fresh(code, "r")
    lines = ["data = io.data", "pos = io.pos", "ends = io.ends", "limit = ends[-1]", "log = io.lenlog.append"]
    lines += sc._inline_parse(code, result, "limit")
    lines += ["io.pos = pos", f"return {result}"]
    name = f"parse_inline_{code.allocateId()}"
    code.append(f"def {name}(io, this):\n" + "\n".join(indent(lines)))
    return f"{name}(io, this)"


# ---------------------------------------------------------------------------------------------
# building


def build_lines(sc: Construct, code: CodeGen, value: str) -> list[str]:
    """Lines that append the encoding of the local ``value`` to ``out``."""
    method = getattr(sc, "_inline_build", None)
    if method is not None:
        return method(code, value)
    return build_fallback(sc, code, value)


def build_fallback(sc: Construct, code: CodeGen, value: str) -> list[str]:
    """``sc``'s ordinary compiled build statement, with the slot counter it expects."""
    return ["st.slot = s", f"obj = {value}", sc._compilebuild(code), "s = st.slot"]


def wrap_lines(code: CodeGen, tag: int, mark: str, slot: str) -> list[str]:
    """Insert ``tag length`` before the content written since ``mark`` (the plan's form for
    ``slot``, else the short form or the style's long form, as ``close_element`` writes it)."""
    return [
        f"n = len(out) - {mark}",
        f"if n < 128 and ({slot} >= plen or not plan[{slot}]):",
        f"    out[{mark}:{mark}] = {ref(code, short_headers(tag))}[n]",
        "else:",  # n >= 128, or a recorded long form: its width, else the style's, as encode_length widens it
        f"    w = plan[{slot}] if {slot} < plen else lfw",
        "    if n < 256 and w < 2 and (w or n > 127):",
        f"        out[{mark}:{mark}] = bytes(({tag}, 129, n))",
        "    elif n < 65536 and w <= 2 and (w == 2 or n > 255):",
        f"        out[{mark}:{mark}] = bytes(({tag}, 130, n >> 8, n & 255))",
        "    else:",
        f"        out[{mark}:{mark}] = {bytes((tag,))!r} + length_at_slot(st, {slot}, n)",
    ]


def build_function(code: CodeGen, sc: Construct) -> str:
    """A function ``(obj, io, this)`` that builds ``sc`` inline; returns the call expression."""
    prelude(code)
    lines = ["top = obj", "st = io.state", "plan = st.plan or ()", "plen = len(plan)", "lfw = st.long_form_width", "s = st.slot",
             "out = io.buffer"]
    lines += sc._inline_build(code, "top")
    lines += ["st.slot = s", "return top"]
    name = f"build_inline_{code.allocateId()}"
    code.append(f"def {name}(obj, io, this):\n" + "\n".join(indent(lines)))
    return f"{name}(obj, io, this)"
