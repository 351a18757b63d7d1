"""Session-wide rig state: the loaded config, selected rigs, open sessions, broken rigs, journal."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

import pytest

from rig.config import ConfigError, load_config
from rig.config.model import RigConfig, RigSpec
from rig.harness import RigSession, cause_of
from rig.report.journal import JOURNAL_NAME, Journal, now_iso

from . import options
from .leases import MeterLease


def builtin_emulated_config() -> RigConfig:
    """The default rigs when ``hw_configs/emulated.toml`` is not at hand (an installed package
    run from elsewhere): the package's copy of it (``rig.config.packaged``), features included."""
    from rig.config.packaged import PACKAGED_CONFIG

    return load_config(PACKAGED_CONFIG)


def _find_config(config: pytest.Config, value: str) -> RigConfig:
    candidates = [Path(value)] if Path(value).is_absolute() else [Path.cwd() / value, Path(config.rootpath) / value]
    for candidate in candidates:
        if candidate.exists():
            return load_config(candidate)
    if value == options.DEFAULT_CONFIG:
        return builtin_emulated_config()
    raise pytest.UsageError(f"--rig-config: {value} not found (looked in {', '.join(map(str, candidates))})")


class RigEnvironment:
    """What the plugin knows for the whole session."""

    def __init__(self, config: pytest.Config):
        self.pytest_config = config
        try:
            self.config = _find_config(config, options.resolve(config, "rig_config"))
        except ConfigError as err:
            raise pytest.UsageError(f"rig config error: {err}") from None
        self.mode = options.resolve(config, "rig_mode")
        self.capture = options.resolve(config, "rig_capture")
        log_dir = Path(options.resolve(config, "rig_log_dir"))
        self.log_dir = log_dir if log_dir.is_absolute() else Path(config.invocation_params.dir) / log_dir
        ids = options.resolve(config, "rig_ids") or None
        self.selected_ids = list(ids or [])
        try:
            chosen = self.config.select(ids=ids)
        except LookupError as err:
            raise pytest.UsageError(str(err)) from None
        self.rigs: dict[str, RigSpec] = {
            spec.id: spec for spec in chosen
            if self.mode == "auto" or (spec.emulated if self.mode == "emulated" else not spec.emulated)
        }
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.journal = Journal(self.log_dir / JOURNAL_NAME)
        self.sessions: dict[str, RigSession] = {}
        self.leases: dict[str, MeterLease] = {}
        self.broken: dict[str, str] = {}

    def start(self) -> None:
        """The session record: attribution, the expected set and the options a resume continues with.

        The expected set is the catalogue crossed with every rig of the config (not only the
        selected ones): ``-k``, ``--rig`` and ``--rig-mode`` can leave scenarios out, and a
        verdict must then say NOT PROVEN for them.
        """
        from rig.harness.attribution import attribution
        from rig.harness.credentials import CredentialsError
        from rig.scenarios.catalogue import expected_for

        try:
            attributed = attribution(self.config, started=now_iso(), selected=list(self.rigs))
        except (CredentialsError, ConfigError) as err:
            raise pytest.UsageError(f"rig config error: {err}") from None
        keyword = getattr(self.pytest_config.option, "keyword", "") or ""
        self.journal.append({
            "type": "session", "config": str(self.config.path), "mode": self.mode, "rigs": list(self.rigs),
            "worker": self.worker, "host": socket.gethostname(), "python": platform.python_version(),
            "attribution": attributed, "expected": expected_for(list(self.config.rigs.values())),
            "options": {"config": str(Path(self.config.path).absolute()), "rigs": self.selected_ids,
                        "mode": self.mode, "keyword": keyword},
        })

    def session(self, rig_id: str) -> RigSession:
        """The open session for ``rig_id`` (opened and leased on first use)."""
        if rig_id in self.broken:
            pytest.skip(f"rig {rig_id} is broken: {self.broken[rig_id]}")
        session = self.sessions.get(rig_id)
        if session is None:
            spec = self.rigs[rig_id]
            try:
                lease = MeterLease(spec)  # keyed on the meter; none for a device of this process
                if lease.leases:
                    self.leases[rig_id] = lease.acquire(timeout=spec.timeouts.join)
                # a shared (physical) rig keeps one inventory, so every worker continues its
                # counters; a device emulated in this process is this worker's own
                folder = rig_id if lease.leases or self.worker == "main" else f"{rig_id}-{self.worker}"
                session = RigSession(spec, run_dir=self.log_dir / "rigs" / folder).open()
            except Exception as err:
                self.mark_broken(rig_id, err)
                raise
            self.sessions[rig_id] = session
            self.journal.append({"type": "rig", "rig": rig_id, "transport_resolved": session.transport_resolved})
        return session

    def mark_broken(self, rig_id: str, err: BaseException) -> None:
        self.broken[rig_id] = cause_of(err)

    def finish(self, exitstatus: int) -> None:
        for session in self.sessions.values():
            try:
                session.close()
            except Exception:
                pass
        for lease in self.leases.values():
            lease.release()
        self.journal.append({"type": "end", "exit_status": int(exitstatus),
                             "complete": int(exitstatus) != int(pytest.ExitCode.INTERRUPTED),
                             "ended": now_iso(), "worker": self.worker})
