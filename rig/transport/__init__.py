"""Links to real and emulated meters behind one interface (``base.Transport``)."""

from .base import (
    Direction,
    Frame,
    FrameLog,
    FramingError,
    LinkLost,
    QueueTransport,
    Transport,
    TransportError,
    TransportTimeout,
    deadline_in,
)

__all__ = ["Direction", "Frame", "FrameLog", "FramingError", "LinkLost", "QueueTransport", "Transport",
           "TransportError", "TransportTimeout", "deadline_in"]
