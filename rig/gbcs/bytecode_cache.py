"""The compiled codec's bytecode, cached on disk between processes.

Why: the compiled schema's generated module is about 180 KB of Python source, and Python's own
``compile`` of it takes about 90 ms, paid again by every process that decodes or encodes a frame:
each ``gbcs-rig`` command, each emulator subprocess, each pytest-xdist worker. The source is the
same in every process (``compiling.ref`` numbers objects in the order the emitters ask for them,
not by ``id``), so its code object can be kept, as Python keeps a module's ``.pyc``.

Rules:

* the key is a SHA-256 of the interpreter's bytecode magic number, the compile mode and filename
  and the whole source: a changed schema, emitter or Python is a different file, never a stale one;
* each file carries a SHA-256 of its marshalled code; a file that does not match, does not load or
  is not a code object is ignored and written again, so a torn or corrupted file costs a compile,
  never a wrong codec;
* files are written to a temporary name and renamed, so a reader sees a whole file or none;
* the folder is ``$GBCS_RIG_CACHE`` (``off`` disables the cache), else ``$XDG_CACHE_HOME/gbcs-rig``,
  else ``~/.cache/gbcs-rig``. A folder that cannot be made or written only means no cache: this is
  a cache of what ``compile`` returns, nothing a verdict depends on.

Old files (from earlier versions of the schema) are left in place; each is about 200 KB.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
import marshal
import os
import threading
import types
from pathlib import Path

ENV = "GBCS_RIG_CACHE"
_HEADER = b"gbcs-rig codec bytecode 1\n"
_lock = threading.Lock()
#: how the last ``cached_compile`` calls of this process went (tests and benchmarks read it)
STATS = {"hits": 0, "misses": 0, "unwritable": 0}


def user_cache_root() -> Path:
    """The project's folder in the user's cache: ``$XDG_CACHE_HOME/gbcs-rig``, else ``~/.cache/gbcs-rig``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gbcs-rig"


def cache_folder() -> Path | None:
    """Where the bytecode is kept, or None when the cache is off."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    return user_cache_root()


def _key(source: str, filename: str, mode: str) -> str:
    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER + f"\0{mode}\0{filename}\0".encode())
    digest.update(source.encode())
    return digest.hexdigest()


def _load(path: Path) -> types.CodeType | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_HEADER) or len(data) < len(_HEADER) + 32:
        return None
    check, body = data[len(_HEADER):len(_HEADER) + 32], data[len(_HEADER) + 32:]
    if hashlib.sha256(body).digest() != check:
        return None
    try:
        code = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _store(path: Path, code: types.CodeType) -> bool:
    body = marshal.dumps(code)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(_HEADER + hashlib.sha256(body).digest() + body)
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass
        return False
    return True


def cached_compile(source: str, filename: str, mode: str, *args, **kwargs) -> types.CodeType:
    """``compile(source, filename, mode)``, from the cache when this exact source was compiled
    before by this Python. Extra arguments (flags) bypass the cache."""
    folder = cache_folder()
    if folder is None or args or kwargs or not isinstance(source, str):
        return builtins.compile(source, filename, mode, *args, **kwargs)
    path = folder / f"codec-{_key(source, filename, mode)}.bin"
    code = _load(path)
    if code is not None:
        STATS["hits"] += 1
        return code
    STATS["misses"] += 1
    code = builtins.compile(source, filename, mode)
    if not _store(path, code):
        STATS["unwritable"] += 1
    return code


def compile_schema(schema):
    """``schema.compile()`` (construct's compiler) with its one ``compile`` of the generated
    source served by ``cached_compile``. construct looks ``compile`` up in its module's globals
    before the builtins, so the name is shadowed there for the duration of the call only."""
    import construct.core as core

    with _lock:
        core.compile = cached_compile
        try:
            return schema.compile()
        finally:
            del core.compile
