"""A child the test will interrupt starts with Ctrl-C's default disposition.

A test run started in the background of a non-interactive shell (``pytest &``) inherits SIGINT as
ignored, and so does every process it starts; Python then leaves it ignored (it installs its
KeyboardInterrupt handler only when SIGINT is at its default). A test that sends SIGINT to such a
child would see nothing happen and blame the CLI. The CLI itself is left alone: a user who starts
it with SIGINT ignored meant that. So the test, which means to interrupt, asks for the default.
"""

from __future__ import annotations

import signal


def interruptible() -> None:
    """``Popen(preexec_fn=interruptible)``: SIGINT at its default in the child, whatever the test
    run inherited, so Python in the child raises KeyboardInterrupt on it as after an interactive start."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
