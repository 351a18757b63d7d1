"""``gbcs-rig report``: merge report folders into one proof; verify a sealed folder.

``report verify DIR [--key PEM]`` exit codes: 0 the folder is exactly as sealed (signed, or
unsigned and hashed when no ``--key`` is given); 1 it does not verify (a file edited, missing or
added, a bad or foreign signature, no or a malformed manifest, unsigned when ``--key`` pins a
signer); 2 the check could not run (no such folder, an unreadable ``--key``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rig.report import journal as journal_module
from rig.report.model import by_model, overall_exit_code

VERIFIED, NOT_VERIFIED, CANNOT_VERIFY = 0, 1, 2

_VERIFY_EPILOG = """exit status: 0 verified (every file as sealed; signed, or unsigned and hashed when no --key
is given); 1 not verified (a file edited, missing or added, bad or foreign signature, no or a
malformed manifest, unsigned although --key was given); 2 could not check (no such folder,
unreadable --key)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="work with proof report folders")
    commands = parser.add_subparsers(dest="report_command", required=True, metavar="ACTION",
                                     help="merge: several report folders into one; verify: a folder's seal")
    merge_parser = commands.add_parser(
        "merge", help="merge report folders into one report",
        description="Join the journals of several proof report folders (hosts, rigs, resumed runs) and write one "
                    "report whose verdict covers the union: what no run concluded is named as not run. The merged "
                    "folder is sealed like a prove folder. Exit codes as for prove (0, 1, 3; 2 usage error).")
    merge_parser.add_argument("directories", nargs="+", metavar="DIR", help="report folders written by gbcs-rig prove")
    merge_parser.add_argument("--out", required=True, metavar="DIR", help="folder for the merged report")
    merge_parser.add_argument("--sign-key", metavar="PEM", default=None,
                              help="ECDSA P-256 private key that signs the merged manifest (default: hashed only)")
    merge_parser.set_defaults(func=run_merge)
    verify_parser = commands.add_parser(
        "verify", help="check a report folder against its signed manifest; print the verdict it protects",
        description="Check every file of a proof report folder against manifest.json (size, SHA-256, nothing "
                    "missing or added) and the manifest's ECDSA P-256 signature, then print the verdicts the "
                    "manifest protects.", epilog=_VERIFY_EPILOG)
    verify_parser.add_argument("directory", metavar="DIR", help="report folder written by prove or report merge")
    verify_parser.add_argument("--key", metavar="PEM",
                               help="the signer's certificate or public key: the manifest must be signed by it")
    verify_parser.add_argument("-v", "--verbose", action="store_true", help="one OK line per intact file too")
    verify_parser.set_defaults(func=run_verify)


def journal_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be merged (no journal, or one with no run in it), else None; a few
    torn lines (a run killed mid-write) are skipped by the reader and only warned about."""
    path = folder / journal_module.JOURNAL_NAME
    if not path.is_file():
        return f"no journal in {folder} (a report folder holds {journal_module.JOURNAL_NAME})"
    records = list(journal_module.read(path))
    lines = sum(1 for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())
    if not any(r.get("type") in ("session", "test") for r in records):
        return f"{path}: no session or test record in its {lines} line(s): not a journal written by gbcs-rig prove"
    if lines > len(records):
        print(f"warning: {path}: {lines - len(records)} unreadable line(s) skipped (a run killed mid-write?)",
              file=sys.stderr)
    return None


def run_merge(args: argparse.Namespace) -> int:
    from rig.report import manifest as manifest_module
    from rig.report.merge import merge

    folders = [Path(d) for d in args.directories]
    if any(folder.resolve() == Path(args.out).resolve() for folder in folders):
        print(f"error: --out {args.out} is one of the folders to merge: give a new folder "
              "(the merge rewrites its journal)", file=sys.stderr)
        return 2
    problems = [problem for problem in map(journal_problem, folders) if problem]
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    try:
        integrity = manifest_module.describe_signing(args.sign_key)
    except manifest_module.SigningKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = merge(args.directories, args.out)
    records = journal_module.tests(Path(args.out) / journal_module.JOURNAL_NAME)
    results = by_model(records)
    for result in results:
        print(f"{result.key:<40} {result.verdict}: {result.verdict_reason}")
    print(f"report: {paths[0]}")
    manifest = manifest_module.write_manifest(args.out, args.sign_key,
                                              verdicts={r.key: f"{r.verdict}: {r.verdict_reason}" for r in results})
    print(f"sealed: {manifest} ({integrity})")
    return overall_exit_code(records)


def run_verify(args: argparse.Namespace) -> int:
    from rig.report import manifest as manifest_module

    folder = Path(args.directory)
    if not folder.is_dir():
        print(f"error: report folder {folder} does not exist", file=sys.stderr)
        return CANNOT_VERIFY
    try:
        result = manifest_module.verify(folder, public_key=args.key)
    except manifest_module.SigningKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        return CANNOT_VERIFY
    except manifest_module.ManifestError as err:
        print(f"FAILED  {err}")
        print("NOT VERIFIED")
        return NOT_VERIFIED
    print(f"manifest: {folder / manifest_module.MANIFEST_NAME}, {len(result.files)} file(s), sealed {result.created}")
    intact = [name for name in result.files if result.problem_for(name) is None]
    if args.verbose:
        for name in intact:
            print(f"OK      {name}")
    print(f"OK      {len(intact)} of {len(result.files)} sealed file(s) unchanged")
    for problem in result.problems:
        print(f"FAILED  {problem}")
    if result.signed and not any(p.kind == "signature" for p in result.problems):
        pinned = "the key given with --key" if result.signer_pinned else \
            "not pinned: pass --key with the signer's certificate to check who signed"
        print(f"OK      signature: {manifest_module.SIGNATURE_ALGORITHM}, key SHA-256 {result.signer_sha256} "
              f"({pinned})")
    elif not result.signed and not any(p.kind == "signature" for p in result.problems):
        print(f"WARNING {manifest_module.UNSIGNED_NOTE}")
    label = "verdicts protected by this manifest" if result.ok else \
        "verdicts recorded in the manifest (NOT protected: the folder does not verify)"
    if result.verdicts:
        print(f"{label}:")
        for model, verdict in result.verdicts.items():
            print(f"  {model:<40} {verdict}")
    else:
        print("the manifest records no verdict")
    print("VERIFIED" + ("" if result.signed else " (unsigned: hashes only)") if result.ok else "NOT VERIFIED")
    return VERIFIED if result.ok else NOT_VERIFIED
