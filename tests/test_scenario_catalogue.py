"""The scenario catalogue (``rig.scenarios``) run by the gbcs-rig plugin against the default
emulated rigs, as part of the project's own test run (the installed catalogue is collected from
here, so the run tests what is installed)."""

from rig.scenarios.test_catalogue import *  # noqa: F403 - the generated test functions
