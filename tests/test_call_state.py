"""The call state machine (``telephony.call_state``): one table, ``apply`` pure.

Table-driven: every (state, input) pair either lands where ``TRANSITIONS`` says or raises
``IllegalTransition`` (the caller keeps its old state). A Hypothesis
``RuleBasedStateMachine`` drives one call with random inputs: the state is always a
member, an illegal input changes nothing, ENDED is absorbing, and ENDED stays reachable.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dialer.errors import DialerError, IllegalTransition
from telephony.call_state import TRANSITIONS, CallInput, CallState, apply

C, In = CallState, CallInput

ALL_PAIRS = list(itertools.product(CallState, CallInput))
LEGAL = sorted(TRANSITIONS.items())
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def reachable(start: CallState) -> set[CallState]:
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for (state, _), target in TRANSITIONS.items():
            if state is here and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


# ---------------------------------------------------------------- the table


def test_the_table_covers_only_real_states_and_inputs() -> None:
    for (state, event), target in TRANSITIONS.items():
        assert isinstance(state, CallState)
        assert isinstance(event, CallInput)
        assert isinstance(target, CallState)


def test_every_state_is_reachable_from_dialing() -> None:
    assert reachable(C.DIALING) == set(CallState)


@pytest.mark.parametrize("state", list(CallState))
def test_every_path_can_end(state: CallState) -> None:
    assert C.ENDED in reachable(state)


@pytest.mark.parametrize(("pair", "target"), LEGAL, ids=str)
def test_legal_transition_lands_where_the_table_says(
    pair: tuple[CallState, CallInput], target: CallState
) -> None:
    state, event = pair
    assert apply(state, event) is target


@pytest.mark.parametrize("pair", ILLEGAL, ids=lambda v: f"{v[0]}-{v[1]}")
def test_illegal_transition_raises(pair: tuple[CallState, CallInput]) -> None:
    state, event = pair
    held = state
    with pytest.raises(IllegalTransition) as info:
        held = apply(held, event)
    assert held is state  # nothing was assigned: the caller keeps the old state
    assert isinstance(info.value, DialerError)
    assert (info.value.machine, info.value.state, info.value.event) == (
        "call",
        state.value,
        event.value,
    )


@pytest.mark.parametrize("event", list(CallInput))
def test_ended_is_absorbing(event: CallInput) -> None:
    with pytest.raises(IllegalTransition):
        apply(C.ENDED, event)


def test_documented_paths() -> None:
    """The life of a call as the module docstring tells it."""

    def run(*inputs: CallInput) -> CallState:
        state = C.DIALING
        for i in inputs:
            state = apply(state, i)
        return state

    assert run(In.RANG, In.FAILED) is C.ENDED
    assert run(In.FAILED) is C.ENDED
    assert run(In.RANG, In.ANSWERED_LIVE, In.BRIDGE_ORDERED, In.BRIDGED, In.HUNG_UP) is C.ENDED
    assert run(In.RANG, In.ANSWERED_LIVE, In.ABANDON_ORDERED, In.HUNG_UP) is C.ENDED
    assert run(In.ANSWERED_LIVE, In.HUNG_UP) is C.ENDED  # person gave up waiting
    assert run(In.ANSWERED_LIVE, In.BRIDGE_ORDERED, In.HUNG_UP) is C.ENDED  # gone mid-bridge
    assert run(In.RANG, In.ANSWERED_OTHER, In.HANGUP_ORDERED, In.HUNG_UP) is C.ENDED
    # A hang-up order may cross an answer or a failure on the wire.
    assert run(In.HANGUP_ORDERED, In.ANSWERED_LIVE, In.HUNG_UP) is C.ENDED
    assert run(In.RANG, In.HANGUP_ORDERED, In.FAILED) is C.ENDED


def test_a_person_is_never_queued_twice_or_bridged_without_an_order() -> None:
    assert (C.QUEUED, In.ANSWERED_LIVE) not in TRANSITIONS
    assert (C.QUEUED, In.BRIDGED) not in TRANSITIONS
    assert (C.DIALING, In.BRIDGE_ORDERED) not in TRANSITIONS
    assert (C.RINGING, In.BRIDGE_ORDERED) not in TRANSITIONS


# ---------------------------------------------------------------- stateful property test


class CallMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = C.DIALING
        self.ended = False
        self.steps = 0

    @rule(event=st.sampled_from(CallInput))
    def step(self, event: CallInput) -> None:
        before = self.state
        target = TRANSITIONS.get((before, event))
        if target is None:
            with pytest.raises(IllegalTransition):
                self.state = apply(before, event)
            assert self.state is before
            return
        self.state = apply(before, event)
        assert self.state is target
        self.steps += 1
        if self.state is C.ENDED:
            self.ended = True

    @precondition(lambda self: self.state is not C.ENDED)
    @rule()
    def the_way_out_exists(self) -> None:
        assert C.ENDED in reachable(self.state)

    @invariant()
    def state_is_a_member(self) -> None:
        assert self.state in CallState.__members__.values()

    @invariant()
    def ended_is_absorbing(self) -> None:
        if self.ended:
            assert self.state is C.ENDED


CallMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestCallMachine = CallMachine.TestCase
