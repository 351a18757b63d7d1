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

Plan-free specialisation: a message built from typed values (every response the emulator
seals) has no plan, and then no length has a recorded form: every ``s >= plen or not plan[s]``
is true and the slot numbers index nothing (``length_at_slot`` without a plan looks only at the
style). ``build_function`` therefore emits each builder twice in one function: a first branch,
taken when the state has no plan, written by the emitters with ``plan_free(code)`` true (no slot
counter, no plan checks, the style's width for every long length), then the general code. The
two write the same bytes for a plan-free state; ``tests/test_codec_fastpaths.py`` holds both to
the interpreted codec.
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
    content start. Short form, ``82 hh ll`` and ``81 ll`` inline, as ``der.enter`` reads them;
    ``82`` before ``81``, as certificate-sized elements (every CS02b replacement) are the usual
    long form and ``81`` the rarer one."""
    return [
        f"if pos + 2 <= {limit} and data[pos] == {tag} and (n := data[pos + 1]) < 128 "
        f"and ({end} := pos + 2 + n) <= {limit}:",
        "    log(0)",
        "    pos += 2",
        f"elif pos + 4 <= {limit} and data[pos] == {tag} and data[pos + 1] == 130 "
        f"and ({end} := pos + 4 + (data[pos + 2] << 8 | data[pos + 3])) <= {limit}:",
        "    log(2)",
        f"    if {end} - pos < 260:",  # a content length below 256 in two octets
        "        io.nonminimal = True",
        "    pos += 4",
        f"elif pos + 3 <= {limit} and data[pos] == {tag} and data[pos + 1] == 129 "
        f"and ({end} := pos + 3 + data[pos + 2]) <= {limit}:",
        "    log(1)",
        "    if data[pos + 2] < 128:",
        "        io.nonminimal = True",
        "    pos += 3",
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


def plan_free(code: CodeGen) -> bool:
    """True while ``build_function`` emits the branch for a state without a plan (see the module
    docstring): emitters then write no slot counting and no plan checks."""
    return getattr(code, "gbcs_plan_free", False)


def build_lines(sc: Construct, code: CodeGen, value: str) -> list[str]:
    """Lines that append the encoding of the local ``value`` to ``out``."""
    method = getattr(sc, "_inline_build", None)
    if method is not None:
        return method(code, value)
    return build_fallback(sc, code, value)


def build_fallback(sc: Construct, code: CodeGen, value: str) -> list[str]:
    """``sc``'s ordinary compiled build statement, with the slot counter it expects (none
    without a plan: the slots then index nothing)."""
    if plan_free(code):
        return [f"obj = {value}", sc._compilebuild(code)]
    return ["st.slot = s", f"obj = {value}", sc._compilebuild(code), "s = st.slot"]


def open_lines(code: CodeGen, tag: int, mark: str, slot: str) -> list[str]:
    """Start a constructed element: ``mark`` is where its content will start. Without a plan the
    tag and a one-octet length placeholder are written first (``wrap_lines`` sets it); with one,
    the element's slot is taken and its header is inserted before the content once known."""
    if plan_free(code):
        return [f"out += {bytes((tag, 0))!r}", f"{mark} = len(out)"]
    return [f"{mark} = len(out)", f"{slot} = s", "s += 1"]


def wrap_lines(code: CodeGen, tag: int, mark: str, slot: str) -> list[str]:
    """Insert ``tag length`` before the content written since ``mark`` (the plan's form for
    ``slot``, else the short form or the style's long form, as ``close_element`` writes it)."""
    if plan_free(code):
        # no recorded form: short below 128 (the placeholder ``open_lines`` wrote, set in place:
        # no insertion), else the style's width, widened as needed, in the placeholder's stead
        return [
            f"n = len(out) - {mark}",
            "if n < 128:",
            f"    out[{mark} - 1] = n",
            "elif n < 256 and lfw < 2:",
            f"    out[{mark} - 1:{mark}] = bytes((129, n))",
            "elif n < 65536 and lfw <= 2:",
            f"    out[{mark} - 1:{mark}] = bytes((130, n >> 8, n & 255))",
            "else:",
            f"    out[{mark} - 1:{mark}] = length_at_slot(st, -1, n)",
        ]
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
    """A function ``(obj, io, this)`` that builds ``sc`` inline; returns the call expression.

    Its first branch is the plan-free specialisation (module docstring), the rest the code for
    a state with a plan (``()`` and None both mean none: ``length_at_slot`` treats them alike)."""
    prelude(code)
    previous = plan_free(code)  # a fallback may compile a nested builder mid-emission
    try:
        code.gbcs_plan_free = True
        free = sc._inline_build(code, "top")
        code.gbcs_plan_free = False
        planned = sc._inline_build(code, "top")
    finally:
        code.gbcs_plan_free = previous
    lines = ["top = obj", "st = io.state", "lfw = st.long_form_width", "out = io.buffer", "if not st.plan:"]
    lines += [*indent(free), "    return top", "plan = st.plan", "plen = len(plan)", "s = st.slot"]
    lines += [*planned, "st.slot = s", "return top"]
    name = f"build_inline_{code.allocateId()}"
    code.append(f"def {name}(obj, io, this):\n" + "\n".join(indent(lines)))
    return f"{name}(obj, io, this)"
