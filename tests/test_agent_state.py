"""The agent state machine (``agents.state``): one table, ``apply`` pure.

Table-driven: every (state, event) pair either lands where ``TRANSITIONS`` says or
raises ``IllegalTransition`` and leaves the agent untouched. A Hypothesis
``RuleBasedStateMachine`` then drives one agent with random events and checks the
invariants after every step.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from agents.state import TRANSITIONS, Agent, AgentEvent, AgentState, apply
from dialer.errors import DialerError, IllegalTransition
from dialer.ids import AgentId, CallId

S, E = AgentState, AgentEvent
A = AgentId("a1")
C = CallId("c1")
BUSY = frozenset({S.RESERVED, S.ON_CALL, S.WRAPUP})  # the states that hold a call

ALL_PAIRS = list(itertools.product(AgentState, AgentEvent))
LEGAL = sorted(TRANSITIONS.items())
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def agent_in(state: AgentState, *, since: float = 1.0) -> Agent:
    """An agent in ``state`` as the machine would leave it (call and reason consistent)."""
    return Agent(
        A,
        state,
        since,
        pause_reason="lunch" if state is S.PAUSED else None,
        call=C if state in BUSY else None,
    )


def kwargs_for(event: AgentEvent) -> dict[str, object]:
    if event is E.PAUSE:
        return {"reason": "break"}
    if event in (E.RESERVE, E.CONNECT):
        return {"call": CallId("c2")}
    return {}


# ---------------------------------------------------------------- the table


def test_the_table_covers_only_real_states_and_events() -> None:
    for (state, event), target in TRANSITIONS.items():
        assert isinstance(state, AgentState)
        assert isinstance(event, AgentEvent)
        assert isinstance(target, AgentState)
    assert ILLEGAL, "some pairs must be illegal"


def test_every_state_is_reachable_from_offline_and_can_log_out() -> None:
    def closure(start: AgentState, edges: list[tuple[AgentState, AgentState]]) -> set[AgentState]:
        seen, todo = {start}, [start]
        while todo:
            here = todo.pop()
            for a, b in edges:
                if a is here and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    forward = [(s, t) for (s, _), t in TRANSITIONS.items()]
    backward = [(t, s) for s, t in forward]
    assert closure(S.OFFLINE, forward) == set(AgentState)
    assert closure(S.OFFLINE, backward) == set(AgentState)  # OFFLINE reachable from all


@pytest.mark.parametrize(("pair", "target"), LEGAL, ids=str)
def test_legal_transition_lands_where_the_table_says(
    pair: tuple[AgentState, AgentEvent], target: AgentState
) -> None:
    state, event = pair
    before = agent_in(state)
    after = apply(before, event, now=42.5, **kwargs_for(event))  # type: ignore[arg-type]
    assert after.state is target
    assert after.since == 42.5
    assert after.id == A
    assert before == agent_in(state)  # the input is a value: untouched


@pytest.mark.parametrize("pair", ILLEGAL, ids=lambda v: f"{v[0]}-{v[1]}")
def test_illegal_transition_raises_and_changes_nothing(
    pair: tuple[AgentState, AgentEvent],
) -> None:
    state, event = pair
    before = agent_in(state)
    with pytest.raises(IllegalTransition) as info:
        apply(before, event, now=99.0, call=CallId("c9"), reason="why")
    assert isinstance(info.value, DialerError)
    assert (info.value.machine, info.value.state, info.value.event) == (
        "agent",
        state.value,
        event.value,
    )
    assert before == agent_in(state)


def test_documented_moves() -> None:
    """The moves the runner relies on, spelled out (the table's intent, not its text)."""
    assert TRANSITIONS[S.OFFLINE, E.LOGIN] is S.READY
    assert TRANSITIONS[S.READY, E.RESERVE] is S.RESERVED
    assert TRANSITIONS[S.RESERVED, E.RELEASE] is S.READY
    assert TRANSITIONS[S.RESERVED, E.CONNECT] is S.ON_CALL
    assert TRANSITIONS[S.READY, E.CONNECT] is S.ON_CALL
    assert TRANSITIONS[S.ON_CALL, E.DROP] is S.READY
    assert TRANSITIONS[S.ON_CALL, E.HANGUP] is S.WRAPUP
    assert TRANSITIONS[S.WRAPUP, E.FINISH] is S.READY
    assert TRANSITIONS[S.WRAPUP, E.LOGOUT] is S.OFFLINE
    # An agent holding a call cannot vanish or pause mid-call.
    for state in (S.RESERVED, S.ON_CALL):
        assert (state, E.LOGOUT) not in TRANSITIONS
        assert (state, E.PAUSE) not in TRANSITIONS


# ---------------------------------------------------------------- details of apply


@pytest.mark.parametrize("state", [S.READY, S.WRAPUP])
@pytest.mark.parametrize("reason", [None, ""])
def test_pause_needs_a_reason(state: AgentState, reason: str | None) -> None:
    before = agent_in(state)
    with pytest.raises(ValueError, match="reason"):
        apply(before, E.PAUSE, now=5.0, reason=reason)
    assert before == agent_in(state)


def test_pause_keeps_its_reason_until_resume() -> None:
    paused = apply(agent_in(S.READY), E.PAUSE, now=3.0, reason="coaching")
    assert (paused.state, paused.pause_reason, paused.since) == (S.PAUSED, "coaching", 3.0)
    back = apply(paused, E.RESUME, now=8.0)
    assert (back.state, back.pause_reason, back.since) == (S.READY, None, 8.0)


def test_reason_is_ignored_outside_pause() -> None:
    out = apply(agent_in(S.OFFLINE), E.LOGIN, now=1.0, reason="ignored")
    assert out.pause_reason is None


def test_since_is_updated_on_every_move() -> None:
    agent = Agent(A)
    moves: list[tuple[AgentEvent, dict[str, object]]] = [
        (E.LOGIN, {}),
        (E.RESERVE, {"call": C}),
        (E.CONNECT, {}),
        (E.HANGUP, {}),
        (E.FINISH, {}),
    ]
    for t, (event, kw) in enumerate(moves, start=1):
        agent = apply(agent, event, now=float(t * 10), **kw)  # type: ignore[arg-type]
        assert agent.since == t * 10
    assert agent.state is S.READY


def test_the_call_follows_the_agent_through_a_conversation() -> None:
    agent = apply(Agent(A), E.LOGIN, now=0.0)
    assert agent.call is None
    agent = apply(agent, E.RESERVE, now=1.0, call=C)
    assert agent.call == C
    agent = apply(agent, E.CONNECT, now=2.0)  # keeps the reserved call
    assert agent.call == C
    agent = apply(agent, E.HANGUP, now=3.0)
    assert (agent.state, agent.call) == (S.WRAPUP, C)  # wrap-up is about that call
    agent = apply(agent, E.FINISH, now=4.0)
    assert agent.call is None


def test_connect_replaces_the_reserved_call() -> None:
    agent = apply(apply(Agent(A), E.LOGIN, now=0.0), E.RESERVE, now=1.0, call=C)
    other = CallId("c2")
    assert apply(agent, E.CONNECT, now=2.0, call=other).call == other


@pytest.mark.parametrize(
    ("state", "event"),
    [(S.RESERVED, E.RELEASE), (S.ON_CALL, E.DROP), (S.WRAPUP, E.FINISH), (S.WRAPUP, E.LOGOUT)],
)
def test_leaving_the_busy_states_clears_the_call(state: AgentState, event: AgentEvent) -> None:
    assert apply(agent_in(state), event, now=9.0).call is None


# ---------------------------------------------------------------- stateful property test


class AgentMachine(RuleBasedStateMachine):
    """One agent driven by random events; a model tracks the call it should hold."""

    def __init__(self) -> None:
        super().__init__()
        self.agent = Agent(A)
        self.now = 0.0
        self.calls = 0
        self.expected_call: CallId | None = None

    def _next_call(self) -> CallId:
        self.calls += 1
        return CallId(f"c{self.calls}")

    @rule(
        event=st.sampled_from(AgentEvent),
        dt=st.floats(min_value=0.0, max_value=600.0, allow_nan=False),
        reason=st.sampled_from([None, "", "lunch", "training"]),
    )
    def step(self, event: AgentEvent, dt: float, reason: str | None) -> None:
        self.now += dt
        before = self.agent
        call = self._next_call() if event in (E.RESERVE, E.CONNECT) else None
        target = TRANSITIONS.get((before.state, event))
        if target is None:
            with pytest.raises(IllegalTransition):
                apply(before, event, now=self.now, call=call, reason=reason)
            assert self.agent is before
            return
        if event is E.PAUSE and not reason:
            with pytest.raises(ValueError, match="reason"):
                apply(before, event, now=self.now, call=call, reason=reason)
            return
        after = apply(before, event, now=self.now, call=call, reason=reason)
        assert after.state is target
        assert after.since == self.now
        assert after.id == before.id
        if target in BUSY:
            self.expected_call = call if call is not None else self.expected_call
        else:
            self.expected_call = None
        self.agent = after

    @invariant()
    def state_is_a_member(self) -> None:
        assert self.agent.state in AgentState.__members__.values()

    @invariant()
    def call_is_held_exactly_in_the_busy_states(self) -> None:
        # Every RESERVE/CONNECT above comes with a call, and the only ways into the
        # busy states are RESERVE and CONNECT (then HANGUP): so a call is held iff busy.
        assert (self.agent.call is not None) == (self.agent.state in BUSY)
        assert self.agent.call == self.expected_call

    @invariant()
    def pause_reason_only_while_paused(self) -> None:
        assert (self.agent.pause_reason is not None) == (self.agent.state is S.PAUSED)

    @invariant()
    def since_is_not_in_the_future(self) -> None:
        assert self.agent.since <= self.now


AgentMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestAgentMachine = AgentMachine.TestCase
