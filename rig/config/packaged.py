"""The emulated default hw_config shipped inside the package, so the rig works from any folder.

``hw_configs/emulated.toml`` in a checkout is the documented example; an installed package has
no ``hw_configs`` folder, so the same rigs ship as ``rig/data/hw_configs/emulated.toml``. One
source of truth: the packaged file is *generated* from the checkout's (``render``), and a test
checks it is up to date. The only difference is the credentials: the checkout's file points at
``../fixtures/pki``, which an installed package does not have, so the packaged file has no
``credentials`` section and its rigs use the project's published test PKI through
``rig.provision.default_pki`` (loaded from ``fixtures/pki`` in a checkout, else regenerated
from the same seed, bit for bit), and the report says "published test PKI".

Regenerate after editing the example: ``python -m rig.config.packaged``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: the default ``--config`` / ``--rig-config`` value, relative to the working folder
DEFAULT_CONFIG = "hw_configs/emulated.toml"
#: the packaged copy (package data, see pyproject's ``[tool.setuptools.package-data]``)
PACKAGED_CONFIG = Path(__file__).resolve().parents[1] / "data" / "hw_configs" / "emulated.toml"

_HEADER = ("# GENERATED from hw_configs/emulated.toml by `python -m rig.config.packaged`: edit that file, not this.\n"
           "# The package's default rigs, used when ./hw_configs/emulated.toml is not in the working folder.\n"
           "# No credentials section: the rigs use the published test PKI (rig.provision.default_pki).\n")
#: the credentials table (header and its key lines) and comments that mention fixtures/pki
_CREDENTIALS = re.compile(r"^\[defaults\.credentials\][^\n]*\n(?:[^\[\n][^\n]*\n)*\n?", re.M)
_FIXTURE_COMMENT = re.compile(r"^#[^\n]*fixtures/pki[^\n]*\n", re.M)


def render(example: str) -> str:
    """The packaged config's text from the checkout example's text."""
    if not _CREDENTIALS.search(example):
        raise ValueError("the example has no [defaults.credentials] table to leave out")
    return _HEADER + _FIXTURE_COMMENT.sub("", _CREDENTIALS.sub("", example))


def default_config(cwd: Path | None = None) -> Path:
    """``./hw_configs/emulated.toml`` when the working folder has one (a checkout), else the
    packaged copy: ``gbcs-rig prove`` and the plugin behave the same in any folder."""
    local = (cwd or Path.cwd()) / DEFAULT_CONFIG
    return local if local.exists() else PACKAGED_CONFIG


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    example = Path(args[0]) if args else Path(__file__).resolve().parents[2] / DEFAULT_CONFIG
    PACKAGED_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    PACKAGED_CONFIG.write_text(render(example.read_text()))
    print(f"wrote {PACKAGED_CONFIG} from {example}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
