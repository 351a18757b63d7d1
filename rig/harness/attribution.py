"""Who and what a proof is about: the journal's first record and the report's header.

A verdict handed on must say which device (type, manufacturer, model, firmware, EUI-64), how it
was reached (in-process emulation, an emulator over a real link, or hardware; the transport as
configured and as resolved), which PKI it was judged against (by the SHA-256 fingerprints of its
root and issuing CA certificates, and whether it is the project's published test PKI), and which
gbcs-rig and catalogue judged it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib.metadata
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from rig.config.model import RigConfig, RigSpec, TransportKind, ZigbeeBackend

EMULATED_IN_PROCESS = "EMULATED in-process"
EMULATED_OVER_LINK = "emulated over a real link"
HARDWARE = "HARDWARE"
TEST_PKI_WARNING = "published test PKI: not a lab credential"


def fingerprint(certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest().upper()


def gbcs_rig_version() -> str:
    try:
        return importlib.metadata.version("gbcs-rig")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def source_revision() -> str:
    """``git describe`` of the checkout the code runs from, else the installed version."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=here, capture_output=True,
                              text=True, timeout=5)
        if done.returncode == 0 and done.stdout.strip():
            return f"git {done.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"installed {gbcs_rig_version()}"


def in_process(spec: RigSpec) -> bool:
    """The device model runs in the rig's own process (its state, clock and hub are the rig's)."""
    kind = spec.transport.kind
    return kind is TransportKind.EMULATED or (kind is TransportKind.ZIGBEE
                                              and getattr(spec.transport, "backend", None) is ZigbeeBackend.EMULATED)


def rig_kind(spec: RigSpec) -> str:
    if in_process(spec):
        return EMULATED_IN_PROCESS
    if spec.emulated:
        return EMULATED_OVER_LINK
    return HARDWARE


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def transport_configured(spec: RigSpec) -> dict[str, Any]:
    fields = {k: v for k, v in _plain(spec.transport).items() if v not in (None, {}, [], ())}
    return {"kind": str(spec.transport.kind), **fields}


def pki_attribution(spec: RigSpec) -> dict[str, Any]:
    """Where the rig's PKI comes from and the fingerprints of its root and issuing CA."""
    from rig.provision import default_pki

    from .credentials import pki_for, pki_source

    pki = pki_for(spec)
    source, layout = pki_source(spec)
    root = fingerprint(pki.root.certificate)
    return {"source": source, "layout": layout, "root_sha256": root,
            "issuing_ca_sha256": fingerprint(pki.issuing_ca.certificate),
            "test_pki": root == fingerprint(default_pki().root.certificate)}


def rig_attribution(spec: RigSpec, *, pki: bool = True) -> dict[str, Any]:
    resolved = {"kind": "emulated", "in_process": True} if spec.transport.kind is TransportKind.EMULATED else None
    return {"device_type": str(spec.device), "manufacturer": spec.model.manufacturer, "model": spec.model.model,
            "firmware": spec.model.firmware, "eui64": spec.device_id, "rig_kind": rig_kind(spec),
            "transport_configured": transport_configured(spec), "transport_resolved": resolved,
            "pki": pki_attribution(spec) if pki else None}


def attribution(config: RigConfig, started: str, selected: list[str] | None = None) -> dict[str, Any]:
    """The session record's attribution. The selected rigs' credentials must be usable (their
    errors propagate); a rig left out of the run whose credentials are not at hand on this host
    is named with the problem instead (it is not run here, and is reported not run)."""
    from rig.config import ConfigError
    from rig.scenarios.catalogue import catalogue_version

    from .credentials import CredentialsError

    rigs = {}
    for rig_id, spec in config.rigs.items():
        try:
            rigs[rig_id] = rig_attribution(spec)
        except (ConfigError, CredentialsError) as err:
            if not selected or rig_id in selected:
                raise
            rigs[rig_id] = {**rig_attribution(spec, pki=False), "pki": {"error": str(err)}}
    return {"gbcs_rig_version": gbcs_rig_version(), "source_revision": source_revision(),
            "catalogue_version": catalogue_version(), "started": started, "config": str(config.path), "rigs": rigs}
