"""``${NAME}`` and ``${NAME:-default}`` in hw_config strings.

Lab hosts, ser2net ports and secrets differ per bench and must not be committed, so string
values may name environment variables instead (labgrid's ``!template`` serves the same need).
``:-`` uses the default when the variable is unset *or empty*, as in POSIX shells; ``$$`` is a
literal ``$``; any other ``$`` is left alone so that ordinary text never needs escaping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\$|\$\{(?P<body>[^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SubstitutionError(ValueError):
    """A reference that cannot be expanded; ``name`` is the variable (or ``None`` if malformed)."""

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.name = name


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Expand every ``${...}`` reference in ``text`` from ``env``."""

    def replace(match: re.Match[str]) -> str:
        if match.group() == "$$":
            return "$"
        body = match.group("body")
        if body is None:
            raise SubstitutionError("unclosed '${' (write '$$' for a literal '$')")
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            raise SubstitutionError(f"'${{{body}}}' is not a variable reference (names are letters, digits and _)")
        value = env.get(name)
        if value:
            return value
        if has_default:
            return default
        if value is not None:  # set but empty, and no default: an empty string is what was asked for
            return value
        raise SubstitutionError(f"environment variable {name} is not set (write ${{{name}:-default}} for a fallback)",
                                name)

    return _REFERENCE.sub(replace, text)
