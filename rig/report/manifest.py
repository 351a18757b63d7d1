"""The manifest that makes a report folder tamper-evident.

A proof is handed on as a folder (HTML, journal, JUnit, traces). ``write_manifest`` lists every
file in it with its size and SHA-256 in ``manifest.json`` and seals that file:

* **signed**: an ECDSA P-256 / SHA-256 signature of the manifest's exact bytes in
  ``manifest.sig`` (base64 DER). The manifest carries the signer's public key and its
  fingerprint (SHA-256 of the DER SubjectPublicKeyInfo), so a reader knows which key signed;
  ``verify(..., public_key=...)`` pins that key, since anyone can re-sign with a key of their own.
* **unsigned** (no key given): the manifest says so, and ``manifest.sha256`` holds its digest.
  That catches accidental damage (a flipped byte, a truncated copy), not deliberate edits:
  whoever edits a file can rewrite the hashes too. ``verify`` reports it as unsigned.

``verify`` reports every problem, not only the first: a file edited (size or hash differs),
missing, or added after sealing (an extra file is a problem too: a reader cannot tell a
planted "evidence" file from a real one), a symlink, and a bad, missing or foreign signature.
The manifest also stores the per-model verdict lines the folder proves, so
``gbcs-rig report verify`` can print the verdict the seal protects.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
DIGEST_NAME = "manifest.sha256"
FORMAT = "gbcs-rig report manifest 1"
SIGNATURE_ALGORITHM = "ECDSA P-256 SHA-256"
#: files that seal the manifest and so cannot be listed in it
SEAL_FILES = (MANIFEST_NAME, SIGNATURE_NAME, DIGEST_NAME)
UNSIGNED_NOTE = ("unsigned: hashed only. This detects accidental damage, not deliberate edits "
                 "(anyone can rewrite the hashes); sign with an ECDSA P-256 key to make it tamper-evident")


class ManifestError(ValueError):
    """A manifest cannot be written or read (folder missing, manifest malformed, symlink)."""


class SigningKeyError(ManifestError):
    """A signing or verifying key that is unreadable or not an ECDSA P-256 key."""


@dataclass(frozen=True)
class Problem:
    """One reason a folder does not verify. ``kind`` is one of ``KINDS``."""

    kind: str
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}{f' ({self.detail})' if self.detail else ''}"


#: problem kinds, in the order they are reported
KINDS = ("manifest", "edited", "missing", "added", "not a file", "signature")


@dataclass
class VerifyResult:
    """What ``verify`` found. ``ok``: every file matches and the seal holds."""

    folder: Path
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    signed: bool = False
    signer_sha256: str = ""
    #: the caller's key (``public_key``) was given and is the signer
    signer_pinned: bool = False
    verdicts: dict[str, str] = field(default_factory=dict)
    created: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_for(self, path: str) -> Problem | None:
        return next((p for p in self.problems if p.path == path), None)


# -- keys ------------------------------------------------------------------------------------


def _public_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex (what ``openssl pkey -pubout -outform DER | sha256sum`` gives)."""
    return hashlib.sha256(_public_der(key)).hexdigest()


def _require_p256(key: Any, source: str, what: str) -> None:
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        raise SigningKeyError(f"{source} is not an EC {what} (got {type(key).__name__}); "
                              "the manifest is signed with ECDSA P-256")
    if not isinstance(key.curve, ec.SECP256R1):
        raise SigningKeyError(f"{source} is an EC key on {key.curve.name}, not P-256 (secp256r1)")


def _read_key_file(path: Path, what: str) -> bytes:
    """The bytes of a key file; one line naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise SigningKeyError(f"{what} {path}: {err.strerror or err}") from None


def load_signing_key(source: str | Path | ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM file (unencrypted PKCS#8 or SEC1), or the key itself."""
    if isinstance(source, ec.EllipticCurvePrivateKey):
        _require_p256(source, "the signing key", "private key")
        return source
    path = Path(source)
    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(f"signing key {path} is encrypted; give an unencrypted PEM key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningKeyError(f"signing key {path} is not a PEM private key") from None
    _require_p256(key, f"signing key {path}", "private key")
    return key  # type: ignore[return-value]


def load_public_key(source: str | Path | ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a PEM certificate, public key or private key file."""
    if isinstance(source, ec.EllipticCurvePublicKey):
        _require_p256(source, "the public key", "public key")
        return source
    path = Path(source)
    data = _read_key_file(path, "key")
    key: Any = None
    loaders = (lambda d: x509.load_pem_x509_certificate(d).public_key(),
               serialization.load_pem_public_key,
               lambda d: serialization.load_pem_private_key(d, password=None).public_key())
    for loader in loaders:
        try:
            key = loader(data)
            break
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    if key is None:
        raise SigningKeyError(f"key {path} is not a PEM certificate, public key or unencrypted private key")
    _require_p256(key, f"key {path}", "public key")
    return key


# -- writing -----------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk(folder: Path) -> tuple[list[str], list[str]]:
    """(regular files, symlinks and other non-files) under ``folder``, as sorted POSIX paths."""
    files, others = [], []
    for root, dirs, names in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in list(dirs):
            if (base / name).is_symlink():
                others.append((base / name).relative_to(folder).as_posix())
                dirs.remove(name)
        for name in names:
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if relative in SEAL_FILES:
                continue
            (files if path.is_file() and not path.is_symlink() else others).append(relative)
    return sorted(files), sorted(others)


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def describe_signing(signing_key: str | Path | ec.EllipticCurvePrivateKey | None) -> str:
    """The line a report shows about its seal, before the manifest is written."""
    if signing_key is None:
        return UNSIGNED_NOTE
    key = load_signing_key(signing_key)
    return f"signed: {SIGNATURE_ALGORITHM}, key SHA-256 {key_fingerprint(key.public_key())}"


def write_manifest(report_dir: str | Path, signing_key: str | Path | ec.EllipticCurvePrivateKey | None = None,
                   verdicts: dict[str, str] | None = None) -> Path:
    """List and hash every file of ``report_dir``, then sign (or digest) the list.

    Written last, after every other artefact; anything written later makes the folder fail
    ``verify``. Raises ``SigningKeyError`` for a key that is not P-256 (before touching the
    folder) and ``ManifestError`` for a missing folder or a symlink in it.
    """
    folder = Path(report_dir)
    key = load_signing_key(signing_key) if signing_key is not None else None
    if not folder.is_dir():
        raise ManifestError(f"report folder {folder} does not exist")
    for name in SEAL_FILES:  # a temporary seal file left by a killed writer is not an artefact
        (folder / f"{name}.tmp").unlink(missing_ok=True)
    files, others = _walk(folder)
    if others:
        raise ManifestError(f"report folder {folder} holds {others[0]}, which is not a regular file; "
                            "a sealed folder holds regular files only")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "hash": "sha256",
        "files": [{"path": name, "size": (folder / name).stat().st_size, "sha256": _sha256_file(folder / name)}
                  for name in files],
        "verdicts": dict(verdicts or {}),
    }
    if key is not None:
        public = key.public_key()
        manifest["signature"] = {
            "algorithm": SIGNATURE_ALGORITHM, "file": SIGNATURE_NAME,
            "public_key_sha256": key_fingerprint(public),
            "public_key": public.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii"),
        }
    else:
        manifest["signature"] = None
        manifest["unsigned"] = UNSIGNED_NOTE
    data = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")
    for stale in (SIGNATURE_NAME, DIGEST_NAME):
        (folder / stale).unlink(missing_ok=True)
    path = folder / MANIFEST_NAME
    _atomic_write(path, data)
    if key is not None:
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        _atomic_write(folder / SIGNATURE_NAME, _signature_text(signature))
    else:
        _atomic_write(folder / DIGEST_NAME, _digest_line(data))
    return path


def _signature_text(signature: bytes) -> bytes:
    return base64.b64encode(signature) + b"\n"


def _digest_line(manifest_bytes: bytes) -> bytes:
    """``sha256sum`` format, so ``sha256sum -c manifest.sha256`` checks it too."""
    return f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST_NAME}\n".encode("ascii")


# -- verifying ---------------------------------------------------------------------------------


def _read_manifest(folder: Path) -> tuple[bytes, dict[str, Any]]:
    if not folder.is_dir():
        raise ManifestError(f"report folder {folder} does not exist")
    path = folder / MANIFEST_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST_NAME} in {folder}: the folder was never sealed") from None
    except OSError as err:
        raise ManifestError(f"{path}: {err.strerror or err}") from None
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError(f"{path} is not a gbcs-rig manifest (format {FORMAT!r} expected)")
    entries = manifest.get("files")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("size"), int)
            and isinstance(e.get("sha256"), str) for e in entries):
        raise ManifestError(f"{path}: 'files' must be a list of {{path, size, sha256}}")
    names = [e["path"] for e in entries]
    outside = next((n for n in names if n.startswith("/") or "\\" in n or ".." in n.split("/")), None)
    if outside is not None:
        raise ManifestError(f"{path}: {outside!r} is not a path inside the report folder")
    if len(set(names)) != len(names):
        raise ManifestError(f"{path}: a file is listed twice")
    if not isinstance(manifest.get("verdicts", {}), dict):
        raise ManifestError(f"{path}: 'verdicts' must be an object")
    if manifest.get("signature") is not None and not isinstance(manifest["signature"], dict):
        raise ManifestError(f"{path}: 'signature' must be an object or null")
    return data, manifest


def _check_signature(folder: Path, data: bytes, manifest: dict[str, Any], result: VerifyResult,
                     pinned: ec.EllipticCurvePublicKey | None) -> None:
    seal = manifest.get("signature")
    if seal is None:
        result.signed = False
        try:
            recorded: bytes | None = (folder / DIGEST_NAME).read_bytes()
        except OSError:
            result.problems.append(Problem("signature", DIGEST_NAME, "missing or unreadable"))
            recorded = None
        if recorded is not None and recorded != _digest_line(data):
            result.problems.append(Problem("signature", DIGEST_NAME, "the manifest does not match its SHA-256"))
        if (folder / SIGNATURE_NAME).exists():
            result.problems.append(Problem("added", SIGNATURE_NAME, "a signature beside an unsigned manifest"))
        if pinned is not None:
            result.problems.append(Problem("signature", MANIFEST_NAME,
                                           f"unsigned, but a signer key was given ({key_fingerprint(pinned)[:16]}...)"))
        return
    result.signed = True
    if (folder / DIGEST_NAME).exists():
        result.problems.append(Problem("added", DIGEST_NAME, "a digest file beside a signed manifest"))
    try:
        embedded = serialization.load_pem_public_key(str(seal.get("public_key", "")).encode("ascii"))
        _require_p256(embedded, "the manifest's public key", "public key")
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm, SigningKeyError) as err:
        result.problems.append(Problem("signature", MANIFEST_NAME, f"unreadable signer public key: {err}"))
        return
    fingerprint = key_fingerprint(embedded)  # type: ignore[arg-type]
    result.signer_sha256 = fingerprint
    if seal.get("public_key_sha256") != fingerprint:
        result.problems.append(Problem("signature", MANIFEST_NAME, "the signer fingerprint does not match its key"))
    key = embedded
    if pinned is not None:
        if key_fingerprint(pinned) != fingerprint:
            result.problems.append(Problem("signature", MANIFEST_NAME,
                                           f"signed by another key (SHA-256 {fingerprint[:16]}..., "
                                           f"expected {key_fingerprint(pinned)[:16]}...)"))
            return
        result.signer_pinned = True
        key = pinned
    try:
        text = (folder / SIGNATURE_NAME).read_bytes()
        signature = base64.b64decode(text.rstrip(b"\n"), validate=True)
        if text != _signature_text(signature):  # one canonical form: no byte of the file is free to change
            raise ValueError("not in canonical form")
    except FileNotFoundError:
        result.problems.append(Problem("signature", SIGNATURE_NAME, "missing"))
        return
    except (OSError, binascii.Error, ValueError):
        result.problems.append(Problem("signature", SIGNATURE_NAME, "unreadable (one line of base64 DER expected)"))
        return
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    except InvalidSignature:
        result.signer_pinned = False
        result.problems.append(Problem("signature", SIGNATURE_NAME, "does not verify: the manifest or its "
                                                                    "signature was changed"))


def verify(report_dir: str | Path, public_key: str | Path | ec.EllipticCurvePublicKey | None = None) -> VerifyResult:
    """Check every listed file, look for added ones, and check the seal.

    ``public_key`` (a PEM certificate, public or private key, or a key object) pins the signer:
    the manifest must be signed, by that key. Raises ``ManifestError`` only when there is
    nothing to verify (no folder, no or malformed manifest) and ``SigningKeyError`` for an
    unreadable ``public_key``; everything else is a ``Problem`` in the result.
    """
    folder = Path(report_dir)
    pinned = load_public_key(public_key) if public_key is not None else None
    data, manifest = _read_manifest(folder)
    result = VerifyResult(folder, verdicts={str(k): str(v) for k, v in manifest.get("verdicts", {}).items()},
                          created=str(manifest.get("created", "")))
    present, others = _walk(folder)
    listed = {}
    for entry in manifest["files"]:
        listed[entry["path"]] = entry
    result.files = sorted(listed)
    for name in result.files:
        entry = listed[name]
        path = folder / name
        if name not in present:
            kind = "not a file" if name in others else "missing"
            result.problems.append(Problem(kind, name))
            continue
        size = path.stat().st_size
        if size != entry["size"]:
            result.problems.append(Problem("edited", name, f"{size} bytes, {entry['size']} sealed"))
        elif _sha256_file(path) != entry["sha256"].lower():
            result.problems.append(Problem("edited", name, "SHA-256 differs"))
    for name in present:
        if name not in listed:
            result.problems.append(Problem("added", name, "not in the manifest"))
    for name in others:
        if name not in listed:
            result.problems.append(Problem("not a file", name, "symlink or special file"))
    _check_signature(folder, data, manifest, result, pinned)
    result.problems.sort(key=lambda p: (KINDS.index(p.kind) if p.kind in KINDS else len(KINDS), p.path))
    return result
