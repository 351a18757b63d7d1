"""``gbcs-rig pki init DIR`` and ``gbcs-rig pki samples DIR``: the generated test PKI and frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from .inputs import pki_folder
from .vocabulary import DEFAULT_PKI_SEED


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("pki", help="generate the deterministic test PKI and sample frames")
    commands = parser.add_subparsers(dest="pki_command", required=True, metavar="ACTION",
                                     help="init: write the PKI; samples: write frames signed with it")
    init = commands.add_parser("init", help="write the test PKI (keys derived from the seed) to DIR")
    init.add_argument("directory", metavar="DIR", help="folder to write (created; existing files are overwritten)")
    init.add_argument("--seed", default=DEFAULT_PKI_SEED, metavar="TEXT",
                      help="text the keys are derived from: the same seed gives the same PKI "
                           "(default %(default)r, the PKI the emulated rigs use)")
    init.set_defaults(func=run_init)
    samples = commands.add_parser("samples", help="write sample CS02 frames built on a PKI folder")
    samples.add_argument("directory", metavar="DIR", help="folder to write the .hex frames to (created)")
    samples.add_argument("--pki", required=True, metavar="DIR", help="PKI folder written by `gbcs-rig pki init`")
    samples.set_defaults(func=run_samples)


def run_init(args: argparse.Namespace) -> int:
    from rig import pki as pki_module

    folder = pki_module.write(pki_module.generate(args.seed), args.directory)
    print(f"test PKI (seed {args.seed!r}) written to {folder}")
    return 0


def run_samples(args: argparse.Namespace) -> int:
    from rig import pki as pki_module
    from rig.samples import generate_samples, write_samples

    paths = write_samples(generate_samples(pki_module.load(pki_folder(args.pki))), args.directory)
    print(f"{len(paths)} sample frames written to {Path(args.directory)}")
    return 0
