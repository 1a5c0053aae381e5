"""Call events every telephony backend emits, in our own types.

Events are frozen, slotted dataclasses named in the past tense. Times are the
engine clock's monotonic seconds (``loop.time()`` in production, virtual seconds in
the simulator). A backend emits, per call, in this order:

    CallRinging?  ->  CallAnswered | CallFailed
    CallAnswered(verdict=HUMAN) -> CallBridged? -> CallHungUp
    any other CallAnswered      -> CallHungUp

``CallHungUp`` is the last event of every answered call; ``CallFailed`` is the last
event of a call that was never answered. Backends never emit an event for a call
after its last event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.ids import AgentId, CallId


class AmdVerdict(StrEnum):
    """What answering-machine detection decided about an answered call."""

    HUMAN = "human"
    MACHINE = "machine"
    NOT_SURE = "not_sure"
    HUNG_UP = "hung_up"  # the far end hung up before a verdict was reached
    FAX = "fax"
    SIT = "sit"  # network announcement (special information tones)


class FailCause(StrEnum):
    """Why a call ended without being answered."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"  # congestion, invalid or unallocated number, SIT
    CANCELLED = "cancelled"  # we hung up ourselves before an answer
    ERROR = "error"  # the backend could not place the call


class HangupSide(StrEnum):
    REMOTE = "remote"  # the called party hung up
    AGENT = "agent"
    ENGINE = "engine"  # we hung up (machine, abandon message done, cancel)


@dataclass(frozen=True, slots=True)
class CallRinging:
    call: CallId
    at: float


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The far end answered and detection reached ``verdict``.

    ``answered_at`` is when the line was picked up; ``at`` when the verdict was reached
    (the engine's routing clock starts at ``at``: connect deadline, abandon message).
    """

    call: CallId
    at: float
    verdict: AmdVerdict
    answered_at: float


@dataclass(frozen=True, slots=True)
class CallFailed:
    call: CallId
    at: float
    cause: FailCause


@dataclass(frozen=True, slots=True)
class CallBridged:
    """The agent hears the called party (the bridge order completed)."""

    call: CallId
    at: float
    agent: AgentId


@dataclass(frozen=True, slots=True)
class CallHungUp:
    call: CallId
    at: float
    side: HangupSide


CallEvent = CallRinging | CallAnswered | CallFailed | CallBridged | CallHungUp
