"""Developer tools for gbcs-rig (not installed with the package)."""
