"""Map a key path to the line that defines it in TOML source text.

``tomllib`` returns plain dicts without positions, yet every validation error must name a
line. This scanner walks the same text once and records, for every key path, the line of its
first mention: table headers (``[a.b]``, ``[[a.b]]`` with per-array indices), dotted keys,
inline tables and array elements (as integer path parts). It runs only on text ``tomllib``
has already accepted, so it can stay lenient: it tracks just enough lexical structure
(strings, comments, brackets) to never mistake the inside of a string for a key.
"""

from __future__ import annotations

import bisect
import re
import tomllib

from .errors import KeyPath

_BARE = re.compile(r"[A-Za-z0-9_-]+")
#: a value token ends at whitespace or structure; a date and a time may be joined by one space
_ATOM = re.compile(r"[^\s,\]}#]+")
_DATE_SPACE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:")


class KeyLocator:
    """``line(keypath)``: the defining line of a key, or of its nearest recorded ancestor."""

    def __init__(self, text: str):
        self._text = text
        self._pos = 0
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self._lines: dict[KeyPath, int] = {}
        #: current index of every array of tables, by its resolved path
        self._aot: dict[KeyPath, int] = {}
        self._scan()

    def line(self, keypath: KeyPath) -> int:
        """Line of ``keypath``; a key that is absent (a missing field) gets its table's line."""
        for end in range(len(keypath), 0, -1):
            line = self._lines.get(tuple(keypath[:end]))
            if line is not None:
                return line
        return 1

    def exact(self, keypath: KeyPath) -> int | None:
        return self._lines.get(tuple(keypath))

    # -- scanning ------------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        return bisect.bisect_right(self._line_starts, pos)

    def _peek(self, count: int = 1) -> str:
        return self._text[self._pos:self._pos + count]

    def _record(self, keypath: KeyPath, pos: int) -> None:
        line = self._line_at(pos)
        for end in range(1, len(keypath) + 1):
            self._lines.setdefault(tuple(keypath[:end]), line)

    def _skip_blank(self, newlines: bool) -> None:
        """Skip spaces and comments, and newlines too when ``newlines``."""
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self._pos += 1
            elif char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _skip_to_line_end(self) -> None:
        """Leniency: anything left after a value up to the end of the line is ignored."""
        while self._pos < len(self._text) and self._text[self._pos] != "\n":
            if self._peek() == "#":
                self._skip_blank(newlines=False)
            elif self._peek() in "\"'":
                self._skip_string()
            else:
                self._pos += 1

    def _scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            if self._peek() == "[":
                table = self._header()
            else:
                self._keyval(table)
            self._skip_to_line_end()

    def _header(self) -> KeyPath:
        start = self._pos
        array = self._peek(2) == "[["
        self._pos += 2 if array else 1
        parts = self._key()
        self._skip_blank(newlines=False)
        self._pos += 2 if array else 1
        resolved: list[str | int] = []
        for index, part in enumerate(parts):
            resolved.append(part)
            last = index == len(parts) - 1
            if array and last:
                position = self._aot.get(tuple(resolved), -1) + 1
                self._aot[tuple(resolved)] = position
                resolved.append(position)
            elif tuple(resolved) in self._aot:
                resolved.append(self._aot[tuple(resolved)])
        self._record(tuple(resolved), start)
        return tuple(resolved)

    def _keyval(self, table: KeyPath) -> None:
        start = self._pos
        keypath = table + tuple(self._key())
        self._record(keypath, start)
        self._skip_blank(newlines=False)
        if self._peek() == "=":
            self._pos += 1
        self._skip_blank(newlines=False)
        self._value(keypath)

    def _key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char and char in "\"'":
                start = self._pos
                self._skip_string()
                parts.append(tomllib.loads("k = " + self._text[start:self._pos])["k"])
            else:
                match = _BARE.match(self._text, self._pos)
                if match is None:
                    return parts
                parts.append(match.group())
                self._pos = match.end()
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return parts
            self._pos += 1

    def _value(self, keypath: KeyPath) -> None:
        char = self._peek()
        if char and char in "\"'":
            self._skip_string()
        elif char == "[":
            self._array(keypath)
        elif char == "{":
            self._inline_table(keypath)
        else:
            match = _DATE_SPACE_TIME.match(self._text, self._pos)
            if match is not None:
                self._pos += 11
            match = _ATOM.match(self._text, self._pos)
            if match is not None:
                self._pos = match.end()

    def _array(self, keypath: KeyPath) -> None:
        self._pos += 1
        index = 0
        while self._pos < len(self._text):
            self._skip_blank(newlines=True)
            if self._peek() in ("]", ""):
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                index += 1
                continue
            self._record((*keypath, index), self._pos)
            self._value((*keypath, index))

    def _inline_table(self, keypath: KeyPath) -> None:
        self._pos += 1
        while self._pos < len(self._text):
            self._skip_blank(newlines=True)
            if self._peek() in ("}", ""):
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            before = self._pos
            self._keyval(keypath)
            if self._pos == before:  # not a key: step over it rather than loop
                self._pos += 1

    def _skip_string(self) -> None:
        text = self._text
        quote = text[self._pos]
        delimiter = quote * 3 if text.startswith(quote * 3, self._pos) else quote
        self._pos += len(delimiter)
        while self._pos < len(text):
            if quote == '"' and text[self._pos] == "\\":
                self._pos += 2
            elif text.startswith(delimiter, self._pos):
                self._pos += len(delimiter)
                extra = 0  # a multi-line string's content may end in up to two quotes
                while len(delimiter) == 3 and extra < 2 and text.startswith(quote, self._pos):
                    self._pos += 1
                    extra += 1
                return
            else:
                self._pos += 1
