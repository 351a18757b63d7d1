"""The scenario catalogue, shipped as a test package: ``pytest --pyargs rig.scenarios
--rig-config hw_configs/<your-rigs>.toml`` runs it against your rigs (the gbcs-rig plugin is
active when the package is installed)."""

from .catalogue import BY_ID, CATALOGUE, Scenario

__all__ = ["BY_ID", "CATALOGUE", "Scenario"]
