"""The agent state machine, as one transition table.

Invariant: an agent is in exactly one state; ``apply`` returns a new ``Agent`` or raises
``IllegalTransition`` and changes nothing. ``since`` is the engine-clock time the agent
entered its state (the pacer reads "time in state" from it; routing picks the
longest-idle ready agent from it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from dialer.errors import IllegalTransition
from dialer.ids import AgentId, CallId


class AgentState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    RESERVED = "reserved"  # a call is being placed for this agent (progressive)
    ON_CALL = "on_call"  # bridge ordered or in conversation
    WRAPUP = "wrapup"  # after-call work
    PAUSED = "paused"  # logged in, not taking calls, with a reason


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    RESUME = "resume"
    RESERVE = "reserve"  # progressive: a call is placed for this agent
    RELEASE = "release"  # the reserved call ended without a person
    CONNECT = "connect"  # a call is bridged to this agent
    DROP = "drop"  # the person hung up before the agent heard them
    HANGUP = "hangup"  # the conversation ended
    FINISH = "finish"  # after-call work done (disposition set)


S, E = AgentState, AgentEvent

TRANSITIONS: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (S.OFFLINE, E.LOGIN): S.READY,
    (S.READY, E.LOGOUT): S.OFFLINE,
    (S.PAUSED, E.LOGOUT): S.OFFLINE,
    (S.WRAPUP, E.LOGOUT): S.OFFLINE,  # leaving after the last call's wrap-up
    (S.READY, E.PAUSE): S.PAUSED,
    (S.WRAPUP, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.RESUME): S.READY,
    (S.READY, E.RESERVE): S.RESERVED,
    (S.RESERVED, E.RELEASE): S.READY,
    (S.READY, E.CONNECT): S.ON_CALL,
    (S.RESERVED, E.CONNECT): S.ON_CALL,
    (S.ON_CALL, E.DROP): S.READY,
    (S.ON_CALL, E.HANGUP): S.WRAPUP,
    (S.WRAPUP, E.FINISH): S.READY,
}


@dataclass(frozen=True, slots=True)
class Agent:
    id: AgentId
    state: AgentState = AgentState.OFFLINE
    since: float = 0.0
    pause_reason: str | None = None
    call: CallId | None = None


def apply(
    agent: Agent,
    event: AgentEvent,
    *,
    now: float,
    call: CallId | None = None,
    reason: str | None = None,
) -> Agent:
    """Return the agent after ``event`` at ``now``; raise ``IllegalTransition`` if the
    table has no such move. ``call`` goes with RESERVE/CONNECT, ``reason`` with PAUSE."""
    target = TRANSITIONS.get((agent.state, event))
    if target is None:
        raise IllegalTransition("agent", agent.state.value, event.value)
    if event is E.PAUSE and not reason:
        raise ValueError("a pause needs a reason")
    keeps_call = target in (S.RESERVED, S.ON_CALL, S.WRAPUP)
    return replace(
        agent,
        state=target,
        since=now,
        pause_reason=reason if target is S.PAUSED else None,
        call=(call if call is not None else agent.call) if keeps_call else None,
    )
