"""The compiled codec's bytecode cache (rig.gbcs.bytecode_cache): same source in every process,
hits give the same codec, and a bad, foreign or unwritable cache costs a compile, never a wrong codec."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.gbcs import bytecode_cache as cache

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((PROJECT / "fixtures" / "samples").glob("*.hex"))

#: a child process: compile the frame schema, decode every generated sample, report
CHILD = """
import hashlib, json, sys
from pathlib import Path
from rig.gbcs import bytecode_cache, codec, decode
source = codec.compiled_frame().source
decoded = [repr(decode(bytes.fromhex(''.join(Path(p).read_text().split())))) for p in sys.argv[1:]]
print(json.dumps({"source": hashlib.sha256(source.encode()).hexdigest(), "stats": bytecode_cache.STATS,
                  "decoded": hashlib.sha256("\\n".join(decoded).encode()).hexdigest()}))
"""


def _child(folder: Path | str) -> dict:
    env = {**os.environ, cache.ENV: str(folder), "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, SAMPLES[:20])], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_two_processes_compile_the_same_source_and_the_second_loads_the_first_ones_bytecode(tmp_path):
    assert SAMPLES, "fixtures/samples holds the generated frames"
    first, second = _child(tmp_path), _child(tmp_path)
    assert first["source"] == second["source"]  # objects are named by number, not by id
    assert first["stats"] == {"hits": 0, "misses": 1, "unwritable": 0}
    assert second["stats"] == {"hits": 1, "misses": 0, "unwritable": 0}
    assert first["decoded"] == second["decoded"]
    assert len(list(tmp_path.glob("codec-*.bin"))) == 1
    off = _child("off")
    assert off["stats"] == {"hits": 0, "misses": 0, "unwritable": 0} and off["decoded"] == first["decoded"]


SOURCE = "def answer():\n    return 42\n"


def _run(code) -> int:
    namespace: dict = {}
    exec(code, namespace)
    return namespace["answer"]()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    monkeypatch.setattr(cache, "STATS", {"hits": 0, "misses": 0, "unwritable": 0})
    return tmp_path


def test_a_hit_returns_the_code_a_compile_gives(folder):
    assert _run(cache.cached_compile(SOURCE, "", "exec")) == 42
    assert _run(cache.cached_compile(SOURCE, "", "exec")) == 42
    assert cache.STATS == {"hits": 1, "misses": 1, "unwritable": 0}
    # another source is another file, never the first one's code
    assert _run(cache.cached_compile(SOURCE.replace("42", "43"), "", "exec")) == 43
    assert len(list(folder.glob("codec-*.bin"))) == 2


@pytest.mark.parametrize("damage", ["flip", "still-code", "truncate", "empty", "not-code"])
def test_a_damaged_file_is_compiled_again_and_rewritten(folder, damage):
    cache.cached_compile(SOURCE, "", "exec")
    [path] = folder.glob("codec-*.bin")
    data = path.read_bytes()
    if damage == "flip":
        data = data[:-3] + bytes([data[-3] ^ 0x01]) + data[-2:]
    elif damage == "still-code":  # the constant 42 becomes 43: it loads, and it is wrong
        at = data.rindex(b"\x2a\x00\x00\x00")
        data = data[:at] + b"\x2b" + data[at + 1:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    else:  # a well-formed file whose content is no code object (checksum right)
        import marshal

        body = marshal.dumps(("not", "code"))
        data = data[: data.index(b"\n") + 1] + hashlib.sha256(body).digest() + body
    path.write_bytes(data)
    assert _run(cache.cached_compile(SOURCE, "", "exec")) == 42
    assert cache.STATS["hits"] == 0 and cache.STATS["misses"] == 2
    assert _run(cache.cached_compile(SOURCE, "", "exec")) == 42 and cache.STATS["hits"] == 1  # rewritten


def test_an_unwritable_folder_only_means_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    monkeypatch.setenv(cache.ENV, str(blocker / "cache"))
    monkeypatch.setattr(cache, "STATS", {"hits": 0, "misses": 0, "unwritable": 0})
    assert _run(cache.cached_compile(SOURCE, "", "exec")) == 42
    assert cache.STATS == {"hits": 0, "misses": 1, "unwritable": 1}
    assert not list(tmp_path.glob("**/.codec-*"))  # no temporary file left behind


def test_the_default_folder_is_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_folder() == tmp_path / "gbcs-rig"
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.cache_folder() is None


def test_construct_sees_its_own_compile_again_afterwards():
    import construct.core as core

    cache.compile_schema(__import__("construct").Int8ub)
    assert "compile" not in vars(core)
