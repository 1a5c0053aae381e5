"""The call state machine, as one transition table (pure).

A call is placed (DIALING), may ring, then either fails (ENDED) or is answered. A
detected person waits for an agent (QUEUED), is bridged (BRIDGING -> CONNECTED), or
gets the identification message (ABANDONING). Anything else answered is closed by us
(CLOSING). Every path ends in ENDED. ``apply`` returns the next state or raises
``IllegalTransition``; the caller keeps the old state when it raises.
"""

from __future__ import annotations

from enum import StrEnum

from dialer.errors import IllegalTransition


class CallState(StrEnum):
    DIALING = "dialing"
    RINGING = "ringing"
    QUEUED = "queued"
    BRIDGING = "bridging"
    CONNECTED = "connected"
    ABANDONING = "abandoning"
    CLOSING = "closing"
    ENDED = "ended"


class CallInput(StrEnum):
    RANG = "rang"
    ANSWERED_LIVE = "answered_live"  # detection said: a person
    ANSWERED_OTHER = "answered_other"  # machine, fax, SIT, not sure, hung up during AMD
    FAILED = "failed"
    BRIDGE_ORDERED = "bridge_ordered"
    BRIDGED = "bridged"
    ABANDON_ORDERED = "abandon_ordered"
    HANGUP_ORDERED = "hangup_ordered"
    HUNG_UP = "hung_up"


C, In = CallState, CallInput

TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (C.DIALING, In.RANG): C.RINGING,
    (C.DIALING, In.ANSWERED_LIVE): C.QUEUED,
    (C.DIALING, In.ANSWERED_OTHER): C.CLOSING,
    (C.DIALING, In.FAILED): C.ENDED,
    (C.DIALING, In.HANGUP_ORDERED): C.CLOSING,
    (C.RINGING, In.ANSWERED_LIVE): C.QUEUED,
    (C.RINGING, In.ANSWERED_OTHER): C.CLOSING,
    (C.RINGING, In.FAILED): C.ENDED,
    (C.RINGING, In.HANGUP_ORDERED): C.CLOSING,
    (C.QUEUED, In.BRIDGE_ORDERED): C.BRIDGING,
    (C.QUEUED, In.ABANDON_ORDERED): C.ABANDONING,
    (C.QUEUED, In.HUNG_UP): C.ENDED,
    (C.BRIDGING, In.BRIDGED): C.CONNECTED,
    (C.BRIDGING, In.HUNG_UP): C.ENDED,
    (C.CONNECTED, In.HUNG_UP): C.ENDED,
    (C.ABANDONING, In.HUNG_UP): C.ENDED,
    # We asked for a hangup (machine, cancel); the answer or failure may still cross it.
    (C.CLOSING, In.ANSWERED_LIVE): C.CLOSING,
    (C.CLOSING, In.ANSWERED_OTHER): C.CLOSING,
    (C.CLOSING, In.HANGUP_ORDERED): C.CLOSING,
    (C.CLOSING, In.FAILED): C.ENDED,
    (C.CLOSING, In.HUNG_UP): C.ENDED,
}


def apply(state: CallState, event: CallInput) -> CallState:
    target = TRANSITIONS.get((state, event))
    if target is None:
        raise IllegalTransition("call", state.value, event.value)
    return target
