"""``gbcs-rig`` command line."""
