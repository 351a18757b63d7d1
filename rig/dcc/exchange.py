"""Send one command over a ``Transport`` and take its verified answer, or say why there is none.

Any ``rig.transport.Transport`` works: emulated, serial, ZigBee bridge or a test double. A frame
is the answer to a command when it decodes, is a response (or, for future-dated commands, the
0x00CB alert) from the command's recipient to its originator, and echoes the command's counter
and message code; other frames stay queued on the transport for whoever waits for them. An
answer counts only when the device's key verifies it: a response that does not is evidence of a
fault, never of an outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rig.gbcs import CraFlag, Cs02bAlert, GbcsDecodeError, Message, decode
from rig.gbcs.build import CS02B_ALERT_CODE
from rig.transport.base import Frame, TransportError, TransportTimeout

from .tables import AttemptResult

Verifier = Callable[[bytes, Message], bool]


@dataclass(frozen=True)
class Exchange:
    """A command, what came back, and the failure when nothing usable did."""

    command: bytes
    command_message: Message
    answer: bytes | None = None
    answer_message: Message | None = None
    #: None when ``answer_message`` is a verified answer to interpret
    failure: AttemptResult | None = None
    error: str | None = None
    sent_at: float = 0.0
    answered_at: float | None = None
    #: False when the transport refused the command: the device cannot have seen it
    delivered: bool = True

    @property
    def verified(self) -> bool:
        return self.failure is None and self.answer_message is not None


def _decoded(frame: Frame) -> Message | None:
    """The frame decoded, once: predicates see a queued frame on every ``recv`` and ``receive``
    needs the accepted one again, so recent results are kept by the frame's bytes."""
    cached = _DECODED.get(frame.data)
    if cached is not None:
        return cached[0]
    try:
        message = decode(frame.data)
    except GbcsDecodeError:
        message = None
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()
    _DECODED[frame.data] = (message,)
    return message


#: frames recently decoded by a predicate, by their bytes (decoding depends on nothing else)
_DECODED: dict[bytes, tuple[Message | None]] = {}
_DECODED_MAX = 64


def response_to(command: Message) -> Callable[[Frame], bool]:
    """Predicate: the device's response to ``command``."""

    def accept(frame: Frame) -> bool:
        message = _decoded(frame)
        return (message is not None and message.cra_flag == CraFlag.RESPONSE
                and message.originator_id == command.recipient_id and message.recipient_id == command.originator_id
                and message.originator_counter == command.originator_counter
                and message.message_code == command.message_code)
    return accept


def execution_alert_for(command: Message) -> Callable[[Frame], bool]:
    """Predicate: the 0x00CB alert reporting the execution of future-dated ``command``."""

    def accept(frame: Frame) -> bool:
        message = _decoded(frame)
        return (message is not None and message.cra_flag == CraFlag.ALERT
                and message.message_code == CS02B_ALERT_CODE
                and message.originator_id == command.recipient_id and message.recipient_id == command.originator_id
                and isinstance(message.payload, Cs02bAlert)
                and message.payload.execution_outcome.seq_number == command.originator_counter)
    return accept


def receive(transport, command: bytes, command_message: Message, predicate: Callable[[Frame], bool], *,
            verify: Verifier, deadline: float, sent_at: float) -> Exchange:
    """Wait for the frame ``predicate`` accepts and verify it."""
    base = Exchange(command, command_message, sent_at=sent_at)
    try:
        frame = transport.recv(predicate, deadline)
    except TransportTimeout as err:
        return _failed(base, AttemptResult.NO_RESPONSE, str(err), time.monotonic())
    except TransportError as err:  # LinkLost, FramingError
        return _failed(base, AttemptResult.LINK_LOST, str(err), time.monotonic())
    message = _decoded(frame) or decode(frame.data)
    _DECODED.pop(frame.data, None)
    answered = time.monotonic()
    if not verify(frame.data, message):
        return Exchange(command, command_message, frame.data, message, AttemptResult.BAD_SIGNATURE,
                        "the device key does not verify the answer", sent_at, answered)
    return Exchange(command, command_message, frame.data, message, None, None, sent_at, answered)


def exchange(transport, command: bytes, command_message: Message, *, verify: Verifier,
             deadline: float) -> Exchange:
    """Send ``command`` and wait until ``deadline`` for its verified response."""
    sent_at = time.monotonic()
    try:
        transport.send(command)
    except TransportError as err:
        return Exchange(command, command_message, failure=AttemptResult.LINK_LOST, error=str(err), sent_at=sent_at,
                        delivered=False)
    return receive(transport, command, command_message, response_to(command_message), verify=verify,
                   deadline=deadline, sent_at=sent_at)


def _failed(base: Exchange, failure: AttemptResult, error: str, at: float | None) -> Exchange:
    return Exchange(base.command, base.command_message, None, None, failure, error, base.sent_at, at)
