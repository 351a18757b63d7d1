"""Checking a rig's credential paths before they are used, at the config's line.

The loader stores paths only (a config names a lab's keys without the keys being on every
machine that reads it). When a rig is about to use them, ``check_credentials`` makes sure each
folder exists, can be read and has one of the two PKI layouts, and each certificate file exists:
otherwise a ``ConfigError`` names the file, line and key, as every other hw_config error does.
A missing lab PKI is never replaced by another.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ConfigError
from .model import Credentials

#: the key store file naming (``rig.crypto.keystore``): what makes a folder a key store
KEYSTORE_NAME = re.compile(r"[0-9A-Fa-f]{16}-(?:pp-ka|ds|ka)\.(?:pem|key)")
FOLDERS = ("pki", "keystore")


def _error(credentials: Credentials, name: str, message: str) -> ConfigError:
    path, line, key = credentials.written_at.get(name, (Path("<config>"), 0, f"credentials.{name}"))
    return ConfigError(message, path=path, line=line, key=key)


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a PKI folder or key store, or None when it is one."""
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder (a PKI is a folder written by `gbcs-rig pki init`, or a key store folder)"
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError as err:
        return f"{folder} cannot be read: {err.strerror or err}"
    if "pki.toml" in names:
        return None if os.access(folder / "pki.toml", os.R_OK) else f"{folder / 'pki.toml'} cannot be read"
    if not any(KEYSTORE_NAME.fullmatch(name) for name in names):
        return (f"{folder} is not a PKI: it has no pki.toml (a `gbcs-rig pki init` folder) and no "
                f"<EUI-64>[-pp]-<ds|ka>.<pem|key> key store files")
    return None


def check_credentials(credentials: Credentials) -> None:
    """Raise ``ConfigError`` (file, line, key) for the first credential path that cannot be used."""
    for name, path in credentials.given().items():
        if name in FOLDERS:
            problem = folder_problem(path)
        elif not path.is_file():
            problem = f"{path} does not exist" if not path.exists() else f"{path} is not a file"
        elif not os.access(path, os.R_OK):
            problem = f"{path} cannot be read"
        else:
            problem = None
        if problem is not None:
            raise _error(credentials, name, problem)
    given = credentials.given()
    if given and not any(name in given for name in FOLDERS):
        first = next(iter(given))
        raise _error(credentials, first, "credentials give CA certificates but no pki or keystore folder")
