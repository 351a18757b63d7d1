"""The key locator against generated TOML: every key is found on the line it was written on."""

from __future__ import annotations

import json
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.config.locate import KeyLocator

# generated keys start with "k" so they never collide with the "sec<n>" table names
bare_keys = st.from_regex(r"k[a-z0-9_-]{0,5}", fullmatch=True)
quoted_keys = st.text(alphabet="k .=#[]'\"\\é", min_size=1, max_size=6).map(lambda text: "k" + text)
keys = st.one_of(bare_keys, quoted_keys)
tricky_text = st.text(alphabet='ab =#[]{}",\'\\\t', max_size=12)


def written_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


@st.composite
def scalar(draw) -> str:
    """A one-line TOML value whose text may contain anything that looks like structure."""
    kind = draw(st.sampled_from(["int", "bool", "basic", "literal", "date"]))
    if kind == "int":
        return str(draw(st.integers(-10**6, 10**6)))
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "basic":
        return json.dumps(draw(tricky_text), ensure_ascii=False)
    if kind == "literal":
        return "'" + draw(tricky_text).replace("'", "").replace("\t", "") + "'"
    return "1979-05-27 07:32:00Z"


@st.composite
def document(draw) -> tuple[str, dict[tuple, int]]:
    """TOML text and, for every key path in it, the line the key was written on."""
    lines: list[str] = []
    expected: dict[tuple, int] = {}

    def emit_table(prefix: tuple) -> None:
        for key in draw(st.lists(keys, max_size=4, unique=True)):
            path, here = (*prefix, key), len(lines) + 1
            expected[path] = here
            shape = draw(st.sampled_from(["scalar", "inline", "array", "multiline", "comment"]))
            head = f"{written_key(key)} = "
            if shape == "inline":
                inner = draw(st.lists(keys, max_size=3, unique=True))
                items = []
                for name in inner:
                    expected[(*path, name)] = here
                    items.append(f"{written_key(name)} = {draw(scalar())}")
                lines.append(head + "{ " + ", ".join(items) + " }")
            elif shape == "array":
                lines.append(head + "[")
                for index in range(draw(st.integers(0, 3))):
                    expected[(*path, index)] = len(lines) + 1
                    lines.append(f"  {draw(scalar())},  # item {index} ' \"")
                lines.append("]")
            elif shape == "multiline":
                lines.append(head + '"""')
                lines.extend(draw(st.lists(st.sampled_from(["x = 1", "[fake]", "[[fake]]", "'", "# no"]), max_size=3)))
                lines.append('"""')
            else:
                tail = f"  # {draw(tricky_text)}" if shape == "comment" else ""
                lines.append(head + draw(scalar()) + tail)

    emit_table(())
    for index in range(draw(st.integers(0, 3))):
        name = f"sec{index}"
        sub = draw(st.one_of(st.none(), keys))
        path = (name,) if sub is None else (name, sub)
        lines.append("")
        expected.setdefault((name,), len(lines) + 1)
        expected[path] = len(lines) + 1
        lines.append("[" + ".".join(written_key(part) for part in path) + "]  # header")
        emit_table(path)
    return "\n".join(lines) + "\n", expected


@settings(max_examples=100, deadline=None)  # each document has up to ~30 keys of every shape
@given(document())
def test_every_key_is_located_on_its_line(generated):
    text, expected = generated
    tomllib.loads(text)  # the generator writes valid TOML
    locator = KeyLocator(text)
    for keypath, line in expected.items():
        assert locator.exact(keypath) == line, (keypath, text)
