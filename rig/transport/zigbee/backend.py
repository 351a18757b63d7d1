"""The radio below the bridge: APS unicasts carrying ZCL frames, one backend per NCP family.

The bridge (``bridge.py``) owns the tunnel logic; a backend only moves ``ApsFrame``s between
this node and remote nodes named by EUI-64. ``EmulatedRadio`` (``emulated.py``) is the CI
backend; ``EzspBackend`` (``ezsp.py``) drives a Silicon Labs NCP through bellows.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from ..base import TransportError
from ..link import WireTaps
from .zcl import CLUSTER_TUNNELING, PROFILE_SMART_ENERGY

#: endpoint the rig's tunneling cluster lives on, and the one it addresses on devices
DEFAULT_ENDPOINT = 1


@dataclass(frozen=True)
class ApsFrame:
    """One APS data frame: addresses, profile/cluster/endpoints and the ZCL frame it carries."""

    source: bytes
    destination: bytes
    payload: bytes
    cluster: int = CLUSTER_TUNNELING
    profile: int = PROFILE_SMART_ENERGY
    source_endpoint: int = DEFAULT_ENDPOINT
    destination_endpoint: int = DEFAULT_ENDPOINT


class RadioError(TransportError):
    """The radio could not send (NCP error, no route, not connected)."""


class DeliveryFailed(RadioError):
    """The radio sent the frame but the remote node's APS acknowledgement never came (a link fault)."""


@dataclass(frozen=True)
class Delivery:
    """What the radio knows about one APS frame it sent: the link layer's delivery report.

    ``status`` is ``"acked"`` when the remote node's APS ACK arrived (EZSP: every fragment's
    ``messageSentHandler`` said SUCCESS), ``"failed"`` when it did not. ``fragments`` is how
    many APS fragments carried it (1: not fragmented), ``retransmissions`` how many fragments
    the rig had to send again.
    """

    destination: bytes
    length: int
    status: str
    fragments: int = 1
    retransmissions: int = 0
    aps_sequence: int | None = None
    detail: str = ""
    timestamp: float = field(default_factory=time.time)

    @property
    def acked(self) -> bool:
        return self.status == "acked"


Receiver = Callable[[ApsFrame], None]


class RadioBackend(ABC):
    """Moves APS frames; thread-safe ``send``; calls the receiver for every inbound frame."""

    #: EUI-64 of the local node (the rig's comms-hub side)
    local_eui64: bytes
    #: byte-level hooks on the frames in the air, when the backend has such a thing (emulated)
    wire: WireTaps | None = None

    @abstractmethod
    def start(self, receive: Receiver) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def send(self, frame: ApsFrame) -> Delivery | None:
        """Send one APS frame; the link layer's delivery report, or None when the radio gives none."""

    def service(self) -> None:  # noqa: B027 - optional hook, a no-op for radios with their own thread
        """Let the backend make progress (the emulated radio runs its nodes here)."""

    @property
    def stats(self) -> dict[str, int]:
        return {}
