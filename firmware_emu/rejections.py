"""What a device does with a command it will not act on: one table, one place.

GBCS: a command that fails its integrity or authentication checks is discarded without a
response and the failure is logged. Which event code goes with which failure, and whether an
alert is raised for it, is not fully pinned down by the sources we have
(``docs/reference/gbcs-cs02b.md`` sections 8 and 12); these rows are the project's reading,
using codes whose GBCS names match each failure. RTDS shows 0x8F30 raised as a Generic Critical
Alert (message code 0x1000) to the supplier, which is the alert form used here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(enum.Enum):
    MALFORMED = "malformed"  # undecodable, header values, frame variant, code vs mode, [3] != counter, counter ranges
    WRONG_RECIPIENT = "wrong recipient"
    UNSUPPORTED = "unsupported use case"
    MODE_REFUSED = "mode refused by this model"
    MAC_FAILURE = "MAC check failed"
    NOT_AUTHORISED = "not authorised"  # no such trust anchor, wrong role, originator not its subject
    REPLAY = "originator counter not above the stored counter"
    SIGNATURE_FAILURE = "signature check failed"
    TRUST_ANCHOR_EXPIRED = "authorising trust anchor expired"  # only models with that quirk
    NOT_PROCESSED = "command could not be processed"  # any failure no other reason covers: state rolled back


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    event_code: int  # 0 = a note, not a GBCS event
    alert: bool  # raise a Generic Critical Alert with ``event_code`` to the responsible supplier


REJECTIONS: dict[Reason, Rejection] = {row.reason: row for row in (
    Rejection(Reason.MALFORMED, 0x8F1E, True),  # Integrity check of content or format of command failed
    Rejection(Reason.WRONG_RECIPIENT, 0x8F1E, False),  # misrouted: logged, nobody to tell
    Rejection(Reason.UNSUPPORTED, 0x0000, False),  # outside what the emulator implements
    Rejection(Reason.MODE_REFUSED, 0x8F1E, False),  # a model that cannot process the mode: silent
    Rejection(Reason.MAC_FAILURE, 0x8F3E, True),  # Unauthorised Communication Access attempted
    Rejection(Reason.NOT_AUTHORISED, 0x8F30, True),  # Source Does not have Authority for Command
    Rejection(Reason.REPLAY, 0x8F53, True),  # Failed Authentication or Authorisation not covered by other codes
    Rejection(Reason.SIGNATURE_FAILURE, 0x8F3D, True),  # Trusted Source Authentication Failure
    Rejection(Reason.TRUST_ANCHOR_EXPIRED, 0x8F3D, True),
    # the content could not be processed (the device cannot tell format from content here)
    Rejection(Reason.NOT_PROCESSED, 0x8F1E, True),
)}

#: roles whose DS cell subject receives a device's generic alerts, first populated wins
ALERT_RECIPIENT_ROLES = (2, 4)  # supplier, else the access control broker (comms hubs)
