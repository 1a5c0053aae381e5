"""The campaign runner (``dialer.runner``) on a virtual clock, against scripted calls.

Each test builds its own ``VirtualTimeLoop`` and runs the real runner on it with
``ScriptedTelephony`` (deterministic calls) and ``SyntheticPortfolio`` leads, so times
are exact: "at verdict + connect_deadline" means that instant, not roughly. Pacers are
tiny test doubles ("dial N calls once at t") or the product's ``ProgressivePacer``.

After every test the runner must not have logged an error (an ``IllegalTransition``
swallowed by the event loop would otherwise hide a bug) unless the test says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.state import Agent, AgentState
from dialer.clock import Clock
from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import AttemptOutcome, AttemptResult, DialTarget, LeadSupply
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings
from pacing.base import Observation, Pacer, PacingDecision, PacingSnapshot, cap_dials
from pacing.keep_in_flight import KeepInFlightPacer
from pacing.progressive import ProgressivePacer
from simulator.loop import VirtualTimeLoop
from simulator.portfolio import SyntheticPortfolio
from telephony.events import AmdVerdict, CallAnswered, CallBridged
from telephony.port import Originate
from telephony.scripted import Script, ScriptedTelephony

WALL0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/Mexico_City"))
A, B, C = AgentId("A"), AgentId("B"), AgentId("C")
ABS = 1e-9  # virtual time is exact up to float rounding of the loop's jumps


def num(i: int) -> str:
    """The phone number ``SyntheticPortfolio`` gives lead ``i`` (dialled i-th, from 0)."""
    return f"5255{i:08d}"


# ---------------------------------------------------------------- test pacers


class ScheduledPacer:
    """Dial ``n`` unreserved calls at the first decision at or after each time ``t``."""

    name = "scheduled"

    def __init__(self, plan: Sequence[tuple[float, int]]) -> None:
        self._plan = sorted(plan)

    def observe(self, obs: Observation) -> None:
        pass

    def next_decision_at(self) -> float:
        return -math.inf

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        due = 0
        while self._plan and self._plan[0][0] <= snapshot.now:
            due += self._plan.pop(0)[1]
        return PacingDecision(cap_dials(due, snapshot))


class FloodPacer:
    """Always wants ``want`` more calls, but respects ``cap_dials`` (lines, leads)."""

    name = "flood"

    def __init__(self, want: int) -> None:
        self.want = want

    def observe(self, obs: Observation) -> None:
        pass

    def next_decision_at(self) -> float:
        return -math.inf

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        return PacingDecision(cap_dials(self.want, snapshot))


class ReserveNewestPacer:
    """Once, at ``at``: reserve one call for the *most recently* ready agent."""

    name = "reserve-newest"

    def __init__(self, at: float) -> None:
        self.at = at
        self.done = False

    def observe(self, obs: Observation) -> None:
        pass

    def next_decision_at(self) -> float:
        return -math.inf

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        if self.done or snapshot.now < self.at or not snapshot.ready_agents:
            return PacingDecision(0)
        self.done = True
        return PacingDecision(1, for_agents=(snapshot.ready_agents[-1],))


# ---------------------------------------------------------------- the rig


class Rig:
    """One runner on a virtual loop, with everything a test wants to look at.

    ``run`` once per rig: stopping a runner is final (``CampaignRunner.stop``).
    """

    def __init__(
        self,
        loop: VirtualTimeLoop,
        *,
        pacer: Pacer,
        scripts: dict[str, Script] | None = None,
        default: Script | Callable[[Originate], Script] = Script(),  # noqa: B008
        leads: LeadSupply | None = None,
        settings: CampaignSettings | None = None,
        telephony: ScriptedTelephony | None = None,
    ) -> None:
        self.loop = loop
        self.tel = telephony or ScriptedTelephony(scripts=scripts, default=default, loop=loop)
        if leads is None:
            portfolio = SyntheticPortfolio(10_000)
            portfolio.results = []
            leads = portfolio
        self.leads = leads
        self.runner = CampaignRunner(
            settings=settings or CampaignSettings(),
            telephony=self.tel,
            leads=leads,
            pacer=pacer,
            clock=Clock(loop, wall_at_start=WALL0),
        )
        self.decisions: list[tuple[PacingSnapshot, PacingDecision, int]] = []
        self.runner.add_decision_listener(
            lambda s, d: self.decisions.append((s, d, self.runner.calls_in_flight))
        )
        self.agent_log: list[tuple[float, AgentId, AgentState, CallId | None]] = []
        self.runner.add_agent_listener(
            lambda a: self.agent_log.append((loop.time(), a.id, a.state, a.call))
        )

    def at(self, t: float, fn: Callable[..., object], *args: object) -> None:
        self.loop.call_at(t, fn, *args)

    def after_verdict(self, call: str, delay: float, fn: Callable[..., object]) -> None:
        """Run ``fn`` ``delay`` seconds after ``call``'s verdict event is emitted."""

        def watch(event: object) -> None:
            if isinstance(event, CallAnswered) and event.call == call:
                self.loop.call_at(event.at + delay, fn)

        self.tel.add_listener(watch)

    def run(self, until: float) -> None:
        async def main() -> None:
            task = asyncio.ensure_future(self.runner.run())
            await asyncio.sleep(until - self.loop.time())
            self.runner.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for _ in range(3):  # let the cancelled order tasks unwind before the loop closes
                await asyncio.sleep(0)

        self.loop.run_until_complete(main())

    # -- what happened
    @property
    def results(self) -> list[AttemptResult]:
        assert isinstance(self.leads, SyntheticPortfolio) and self.leads.results is not None
        return self.leads.results

    def outcome(self, call: str) -> AttemptOutcome:
        (found,) = [r.outcome for r in self.results if r.call == call]
        return found

    def verdict(self, call: str) -> CallAnswered:
        (found,) = [e for e in self.tel.emitted if isinstance(e, CallAnswered) and e.call == call]
        return found

    def auto_wrapup(self, seconds: float) -> None:
        """Every agent finishes after-call work ``seconds`` after each hang-up."""

        def on_agent(agent: Agent) -> None:
            if agent.state is AgentState.WRAPUP:
                self.loop.call_at(
                    self.loop.time() + seconds, _finish_if_wrapping, self.runner, agent.id
                )

        self.runner.add_agent_listener(on_agent)

    def bridges(self) -> list[tuple[CallId, AgentId | None]]:
        return [(o.call, o.agent) for o in self.tel.orders_of("bridge")]

    def states_of(self, agent: AgentId) -> list[tuple[float, AgentState]]:
        return [(t, s) for t, a, s, _ in self.agent_log if a == agent]


@pytest.fixture(autouse=True)
def no_runner_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING, logger="dialer")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


HUMAN = Script(fate="human", ring=3.0, decision=1.0, talk=30.0)


# ---------------------------------------------------------------- routing a person


@pytest.mark.parametrize(("first", "second"), [(A, B), (B, A)])
def test_a_person_goes_to_the_longest_idle_ready_agent(
    loop: VirtualTimeLoop, first: AgentId, second: AgentId
) -> None:
    rig = Rig(loop, pacer=ScheduledPacer([(5.0, 1)]), default=HUMAN)
    rig.runner.login(first)
    rig.at(2.0, rig.runner.login, second)
    rig.run(until=60.0)
    assert rig.bridges() == [("c1", first)]
    assert rig.runner.agents[second].state is AgentState.READY
    assert rig.outcome("c1") is AttemptOutcome.CONNECTED
    assert rig.runner.stats.connected == 1


def test_an_agent_back_from_wrapup_queues_behind_the_idle_ones(loop: VirtualTimeLoop) -> None:
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1), (50.0, 1)]), default=HUMAN)
    rig.runner.login(A)
    rig.at(1.0, rig.runner.login, B)  # B logs in while A is still ringing: A goes first
    rig.at(40.0, rig.runner.finish_wrapup, A)  # A's call ended at 34.2; ready again at 40
    rig.run(until=120.0)
    assert rig.bridges() == [("c1", A), ("c2", B)]  # B has been idle since 1, A since 40


def test_a_person_waits_and_an_agent_leaving_wrapup_in_time_takes_them(
    loop: VirtualTimeLoop,
) -> None:
    scripts = {
        num(0): Script(fate="human", ring=1.0, decision=1.0, talk=10.0),
        num(1): Script(fate="human", ring=10.0, decision=1.0, talk=10.0),
    }
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1), (5.0, 1)]), scripts=scripts)
    rig.runner.login(A)
    at_verdict: list[tuple[AgentState, int]] = []
    rig.after_verdict(
        "c2", 0.0, lambda: at_verdict.append((rig.runner.agents[A].state, len(rig.bridges())))
    )
    # c1 ended at 12.2 and A is wrapping up when c2's person is detected (at 16).
    rig.after_verdict("c2", 1.5, lambda: rig.runner.finish_wrapup(A))  # within the 2 s
    rig.run(until=60.0)
    decided = rig.verdict("c2").at
    assert at_verdict == [(AgentState.WRAPUP, 1)]
    assert rig.bridges() == [("c1", A), ("c2", A)]
    (second,) = [o for o in rig.tel.orders_of("bridge") if o.call == "c2"]
    assert second.at == pytest.approx(decided + 1.5, abs=ABS)
    assert rig.tel.orders_of("play_and_hangup") == []
    assert rig.runner.stats.abandoned == 0
    assert rig.runner.stats.connect_waits[-1] == pytest.approx(1.5, abs=ABS)
    assert rig.outcome("c2") is AttemptOutcome.CONNECTED


@pytest.mark.parametrize("deadline", [2.0, 0.5])
@pytest.mark.parametrize("agent_back_after", [None, 0.1])
def test_nobody_in_time_means_the_abandon_message_at_exactly_the_deadline(
    loop: VirtualTimeLoop, deadline: float, agent_back_after: float | None
) -> None:
    scripts = {
        num(0): Script(fate="human", ring=1.0, decision=1.0, talk=10.0),
        num(1): Script(fate="human", ring=10.0, decision=1.0, talk=10.0),
    }
    settings = CampaignSettings(connect_deadline=deadline, abandon_prompt="id-message")
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1), (5.0, 1)]), scripts=scripts, settings=settings)
    rig.runner.login(A)
    if agent_back_after is not None:  # too late: the message is already playing
        rig.after_verdict("c2", deadline + agent_back_after, lambda: rig.runner.finish_wrapup(A))
    rig.run(until=60.0)
    decided = rig.verdict("c2").at
    assert decided == pytest.approx(16.0, abs=0.3)
    (played,) = rig.tel.orders_of("play_and_hangup")
    assert (played.call, played.prompt) == ("c2", "id-message")
    assert played.at == pytest.approx(decided + deadline, abs=ABS)
    assert rig.bridges() == [("c1", A)]
    assert rig.runner.stats.abandoned == 1
    assert rig.runner.stats.lost == 0
    assert rig.runner.stats.abandon_rate == pytest.approx(0.5)
    assert rig.outcome("c2") is AttemptOutcome.ABANDONED
    assert rig.runner.calls_in_flight == 0


def test_a_person_who_hangs_up_while_waiting_is_lost_not_abandoned(
    loop: VirtualTimeLoop,
) -> None:
    scripts = {
        num(0): Script(fate="human", ring=1.0, decision=1.0, talk=30.0),
        # Patience counts from the answer: gone 1 s after the verdict, before the deadline.
        num(1): Script(fate="human", ring=5.0, decision=1.0, patience=2.0),
    }
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1), (1.0, 1)]), scripts=scripts)
    rig.runner.login(A)
    rig.at(20.0, rig.runner.finish_wrapup, A)
    rig.run(until=60.0)
    assert rig.runner.stats.lost == 1
    assert rig.runner.stats.abandoned == 0
    assert rig.tel.orders_of("play_and_hangup") == []
    assert rig.bridges() == [("c1", A)]  # nobody is bridged to the caller who left
    assert rig.outcome("c2") is AttemptOutcome.LOST
    assert rig.runner.stats.abandon_rate == 0.0


def test_a_person_gone_during_the_bridge_frees_the_agent(loop: VirtualTimeLoop) -> None:
    # Patience runs out 0.1 s after the verdict; the agent would hear them after 0.2 s.
    script = Script(fate="human", ring=2.0, decision=1.0, patience=1.1, bridge_delay=0.2)
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1)]), default=script)
    rig.runner.login(A)
    rig.run(until=30.0)
    assert rig.bridges() == [("c1", A)]
    assert not [e for e in rig.tel.emitted if isinstance(e, CallBridged)]
    assert rig.outcome("c1") is AttemptOutcome.LOST
    assert rig.runner.stats.lost == 1
    assert rig.runner.stats.connected == 0
    assert [s for _, s in rig.states_of(A)] == [
        AgentState.READY,
        AgentState.ON_CALL,
        AgentState.READY,
    ]


# ---------------------------------------------------------------- not a person


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        (Script(fate="machine", ring=4.0, decision=2.0), AttemptOutcome.MACHINE),
        # A person the detector calls a machine is treated exactly like one.
        (
            Script(fate="human", ring=4.0, decision=2.0, verdict=AmdVerdict.MACHINE),
            AttemptOutcome.MACHINE,
        ),
        (
            Script(fate="machine", ring=4.0, decision=2.0, verdict=AmdVerdict.FAX),
            AttemptOutcome.FAX,
        ),
    ],
)
@pytest.mark.parametrize("machine_prompt", [None, "leave-message"])
def test_a_machine_verdict_is_hung_up_or_gets_the_message(
    loop: VirtualTimeLoop, script: Script, outcome: AttemptOutcome, machine_prompt: str | None
) -> None:
    settings = CampaignSettings(machine_prompt=machine_prompt)
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1)]), default=script, settings=settings)
    rig.runner.login(A)
    rig.run(until=30.0)
    decided = rig.verdict("c1").at
    assert rig.bridges() == []
    plays, hangups = rig.tel.orders_of("play_and_hangup"), rig.tel.orders_of("hangup")
    if machine_prompt is not None and script.verdict in (None, AmdVerdict.MACHINE):
        assert [(o.call, o.prompt) for o in plays] == [("c1", machine_prompt)]
        assert hangups == []
        assert plays[0].at == pytest.approx(decided, abs=ABS)
    else:
        assert plays == []
        assert [o.call for o in hangups] == ["c1"]
        assert hangups[0].at == pytest.approx(decided, abs=ABS)
    assert rig.outcome("c1") is outcome
    assert rig.runner.stats.live == 0
    assert rig.runner.agents[A].state is AgentState.READY


def test_hung_up_during_detection_needs_no_order(loop: VirtualTimeLoop) -> None:
    script = Script(fate="human", ring=3.0, decision=2.0, patience=1.0)
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1)]), default=script)
    rig.runner.login(A)
    rig.run(until=30.0)
    assert rig.verdict("c1").verdict is AmdVerdict.HUNG_UP
    assert [o.kind for o in rig.tel.orders] == ["originate"]
    assert rig.outcome("c1") is AttemptOutcome.HUNG_UP_IN_DETECTION
    assert rig.runner.calls_in_flight == 0


@pytest.mark.parametrize(("as_human", "bridged"), [(True, True), (False, False)])
def test_not_sure_goes_to_an_agent_when_so_configured(
    loop: VirtualTimeLoop, as_human: bool, bridged: bool
) -> None:
    script = Script(fate="human", ring=3.0, decision=2.0, talk=20.0, verdict=AmdVerdict.NOT_SURE)
    settings = CampaignSettings(not_sure_as_human=as_human)
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1)]), default=script, settings=settings)
    rig.runner.login(A)
    rig.run(until=60.0)
    assert (rig.bridges() == [("c1", A)]) is bridged
    expected = AttemptOutcome.CONNECTED if bridged else AttemptOutcome.NOT_SURE
    assert rig.outcome("c1") is expected


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        (Script(fate="busy", ring=3.0), AttemptOutcome.BUSY),
        (Script(fate="failed", ring=1.0), AttemptOutcome.FAILED),
        (Script(fate="no_answer"), AttemptOutcome.NO_ANSWER),
        (Script(fate="human", ring=40.0), AttemptOutcome.NO_ANSWER),  # rings past 25 s
    ],
)
def test_unanswered_calls_end_with_their_cause(
    loop: VirtualTimeLoop, script: Script, outcome: AttemptOutcome
) -> None:
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 1)]), default=script)
    rig.runner.login(A)
    rig.run(until=40.0)
    assert rig.outcome("c1") is outcome
    assert rig.runner.calls_in_flight == 0
    assert [o.kind for o in rig.tel.orders] == ["originate"]
    (req,) = rig.tel.originated
    assert req.ring_timeout == rig.runner.settings.no_answer_timeout


# ---------------------------------------------------------------- progressive


def test_progressive_reserves_the_agent_while_the_call_rings(loop: VirtualTimeLoop) -> None:
    rig = Rig(loop, pacer=ProgressivePacer(), default=Script(fate="human", ring=10.0, talk=30))
    seen: list[tuple[AgentState, CallId | None]] = []
    rig.runner.login(A)
    rig.at(5.0, lambda: seen.append((rig.runner.agents[A].state, rig.runner.agents[A].call)))
    rig.run(until=20.0)
    (first, *_) = rig.tel.originated
    assert first.reserved_for == A
    assert seen == [(AgentState.RESERVED, first.call)]
    assert rig.bridges()[0] == (first.call, A)
    assert rig.runner.agents[A].state is AgentState.ON_CALL
    assert rig.runner.stats.abandoned == 0


def test_agent_listeners_learn_the_reserved_call(loop: VirtualTimeLoop) -> None:
    rig = Rig(loop, pacer=ProgressivePacer(), default=Script(fate="human", ring=10.0))
    rig.runner.login(A)
    rig.run(until=5.0)
    (req,) = rig.tel.originated
    assert rig.runner.agents[A].call == req.call  # the runner's own view has it
    pushed = [call for _, a, state, call in rig.agent_log if state is AgentState.RESERVED]
    assert pushed == [req.call]


def test_a_reserved_person_goes_to_their_agent_not_the_longest_idle(
    loop: VirtualTimeLoop,
) -> None:
    rig = Rig(loop, pacer=ReserveNewestPacer(at=2.0), default=HUMAN)
    rig.runner.login(B)  # B is ready from 0: the longest idle
    rig.at(1.0, rig.runner.login, A)
    rig.run(until=30.0)
    (req,) = rig.tel.originated
    assert req.reserved_for == A
    assert rig.bridges() == [(req.call, A)]
    assert rig.runner.agents[B].state is AgentState.READY


def test_progressive_with_one_line_keeps_the_call_for_its_agent(loop: VirtualTimeLoop) -> None:
    rig = Rig(
        loop,
        pacer=ProgressivePacer(),
        default=Script(fate="human", ring=8.0, talk=30.0),
        settings=CampaignSettings(max_lines=1),
    )
    rig.runner.login(A)  # A's call takes the only line
    rig.at(1.0, rig.runner.login, B)  # B is then ready and idle, with no line to dial on
    rig.run(until=20.0)
    (req,) = rig.tel.originated
    assert req.reserved_for == A
    decided = rig.verdict(req.call).at
    assert rig.bridges() == [(req.call, A)]
    b_states = rig.states_of(B)
    assert b_states == [(1.0, AgentState.READY)]  # B idle all along, since before the verdict
    assert b_states[0][0] < decided


@pytest.mark.parametrize(
    ("script", "ends_at"),
    [
        (Script(fate="failed", ring=2.0), 2.0),
        (Script(fate="busy", ring=3.0), 3.0),
        (Script(fate="no_answer"), 25.0),
        (Script(fate="machine", ring=4.0, decision=1.5), 5.5),
        (Script(fate="human", ring=4.0, decision=1.5, patience=1.0), 5.0),  # gone in AMD
    ],
)
def test_a_reserved_call_without_a_person_releases_its_agent(
    loop: VirtualTimeLoop, script: Script, ends_at: float
) -> None:
    scripts = {num(0): script}
    rig = Rig(loop, pacer=ProgressivePacer(), scripts=scripts, default=Script(fate="no_answer"))
    rig.runner.login(A)
    rig.run(until=ends_at + 0.01)
    log = [(t, s, call) for t, a, s, call in rig.agent_log if a == A]
    assert [s for _, s, _ in log[:3]] == [AgentState.READY, AgentState.RESERVED, AgentState.READY]
    released_at, _, call = log[2]
    assert released_at == pytest.approx(ends_at, abs=ABS)
    assert call is None
    assert rig.runner.calls_in_flight <= 1
    assert rig.results[0].call == "c1"
    assert rig.results[0].agent is None
    assert rig.runner.stats.abandoned == 0


def _mixed(request: Originate) -> Script:
    """A deterministic mix of every fate, keyed on the call's sequence number."""
    i = int(request.call.removeprefix("c"))
    return [
        Script(fate="human", ring=4.0, decision=1.5, talk=40.0),
        Script(fate="no_answer"),
        Script(fate="machine", ring=6.0, decision=2.0),
        Script(fate="busy", ring=2.0),
        Script(fate="human", ring=9.0, decision=2.5, talk=90.0, patience=4.0),
        Script(fate="failed", ring=1.0),
        Script(fate="human", ring=3.0, decision=1.0, patience=0.5),  # gone in AMD
        Script(fate="machine", ring=5.0, decision=1.0, verdict=AmdVerdict.HUMAN, talk=10),
    ][i % 8]


def test_progressive_never_abandons(loop: VirtualTimeLoop) -> None:
    rig = Rig(loop, pacer=ProgressivePacer(), default=_mixed)
    for i, agent in enumerate((A, B, C)):
        rig.at(float(i), rig.runner.login, agent)
    for t in range(60, 900, 45):  # agents finish their after-call work 15 s after hang-up
        for agent in (A, B, C):
            rig.at(float(t), _finish_if_wrapping, rig.runner, agent)
    rig.run(until=900.0)
    stats = rig.runner.stats
    assert stats.dials > 50
    assert stats.live > 10
    assert stats.abandoned == 0
    assert not [o for o in rig.tel.orders_of("play_and_hangup") if o.prompt == "dialer-abandon"]
    reserved = {r.call: r.reserved_for for r in rig.tel.originated}
    assert all(reserved[call] == agent for call, agent in rig.bridges())
    assert all(r.reserved_for is not None for r in rig.tel.originated)


def _finish_if_wrapping(runner: CampaignRunner, agent: AgentId) -> None:
    if runner.agents[agent].state is AgentState.WRAPUP:
        runner.finish_wrapup(agent)


# ---------------------------------------------------------------- lead ownership


def _owners(count: int, owners: Sequence[AgentId], every: int) -> dict[LeadId, AgentId | None]:
    """Lead -> owner, learnt from a fresh portfolio through its public interface only."""
    scratch = VirtualTimeLoop()
    try:

        async def claim(agent: AgentId | None) -> set[LeadId]:
            p = SyntheticPortfolio(count, owners=owners, owned_every=every)
            return {t.lead for t in await p.claim(count, at=WALL0, for_agent=agent)}

        unowned = scratch.run_until_complete(claim(None))
        out: dict[LeadId, AgentId | None] = dict.fromkeys(unowned)
        for agent in owners:
            for lead in scratch.run_until_complete(claim(agent)) - unowned:
                out[lead] = agent
    finally:
        scratch.close()
    assert len(out) == count
    return out


def test_progressive_dials_an_agents_own_or_unowned_leads_only(loop: VirtualTimeLoop) -> None:
    owner = _owners(400, [A, B], 2)
    assert sum(o is None for o in owner.values()) == 200  # the mapping is not vacuous
    portfolio = SyntheticPortfolio(400, owners=[A, B], owned_every=2)
    fast = Script(fate="busy", ring=1.0)
    rig = Rig(loop, pacer=ProgressivePacer(), leads=portfolio, default=fast)
    for agent in (A, B, C):  # C owns nothing: unowned leads only
        rig.runner.login(agent)
    rig.run(until=60.0)
    dialled = rig.tel.originated
    assert len(dialled) > 50
    for req in dialled:
        assert req.reserved_for is not None
        assert owner[req.lead] in (None, req.reserved_for), req
    # Each owner did get their own leads (the check above is not vacuous), C none.
    for agent in (A, B):
        assert sum(owner[r.lead] == agent for r in dialled if r.reserved_for == agent) > 5
    assert any(r.reserved_for == C for r in dialled)


def test_predictive_never_dials_an_owned_lead(loop: VirtualTimeLoop) -> None:
    owner = _owners(100, [A, B], 2)
    portfolio = SyntheticPortfolio(100, owners=[A, B], owned_every=2)
    rig = Rig(loop, pacer=ScheduledPacer([(0.0, 20), (10.0, 20)]), leads=portfolio, default=_mixed)
    rig.runner.login(A)
    rig.runner.login(B)
    rig.run(until=60.0)
    dialled = rig.tel.originated
    assert len(dialled) == 40
    assert all(r.reserved_for is None for r in dialled)
    assert [owner[r.lead] for r in dialled] == [None] * 40


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize("progressive", [False, True])
def test_dialling_stops_when_the_leads_run_out(loop: VirtualTimeLoop, progressive: bool) -> None:
    portfolio = SyntheticPortfolio(5)
    portfolio.results = []
    pacer = ProgressivePacer() if progressive else FloodPacer(3)
    rig = Rig(loop, pacer=pacer, leads=portfolio, default=Script(fate="busy", ring=1.0))
    for agent in (A, B):
        rig.runner.login(agent)
    rig.run(until=100.0)  # several lead_retry_interval periods (30 s)
    assert len(rig.tel.originated) == 5
    assert rig.runner.stats.dials == 5
    assert portfolio.claimed == 5
    assert len(portfolio.results) == 5
    fifth = rig.tel.orders_of("originate")[-1].at
    later = [(s, d) for s, d, _ in rig.decisions if s.now > fifth]
    assert any(s.leads_exhausted for s, _ in later)
    assert all(d.dials == 0 for s, d in later if s.leads_exhausted)
    # Nobody is left holding a reservation for a call that was never placed.
    assert {a.state for a in rig.runner.agents.values()} == {AgentState.READY}
    assert rig.runner.calls_in_flight == 0


def test_an_agent_without_leads_does_not_starve_one_with_leads(loop: VirtualTimeLoop) -> None:
    # Every lead is B's: A (longest idle, so asked for first) has nothing to dial. The
    # same happens mid-shift once the unowned leads run out while B still owns some.
    portfolio = SyntheticPortfolio(10, owners=[B], owned_every=1)
    rig = Rig(loop, pacer=ProgressivePacer(), leads=portfolio, default=Script(fate="busy"))
    rig.runner.login(A)
    rig.runner.login(B)
    rig.run(until=29.0)  # each call is busy after 5 s: B should dial ~6 times by now
    dialled_for = [r.reserved_for for r in rig.tel.originated]
    assert set(dialled_for) == {B}
    assert len(dialled_for) >= 5  # today: none at all until t = 30 (lead_retry_interval)


@pytest.mark.parametrize("max_lines", [1, 3, 7])
def test_never_more_calls_than_lines(loop: VirtualTimeLoop, max_lines: int) -> None:
    rig = Rig(
        loop,
        pacer=FloodPacer(50),
        default=_mixed,
        settings=CampaignSettings(max_lines=max_lines, connect_deadline=2.0),
    )
    for agent in (A, B, C):
        rig.runner.login(agent)
    for t in range(20, 300, 20):
        for agent in (A, B, C):
            rig.at(float(t), _finish_if_wrapping, rig.runner, agent)
    rig.run(until=300.0)
    assert rig.decisions
    for snap, decision, in_flight in rig.decisions:
        assert snap.lines_free >= 0
        assert snap.lines_free == max_lines - in_flight
        assert in_flight <= max_lines
        assert decision.dials <= snap.lines_free
    assert rig.tel.max_active == max_lines  # the lines were used, never exceeded
    assert rig.runner.stats.dials > 3 * max_lines


# ---------------------------------------------------------------- a refused originate


def test_a_refused_originate_ends_as_failed_and_dialling_goes_on(loop: VirtualTimeLoop) -> None:
    scripts = {num(1): Script(fate="refused")}
    rig = Rig(
        loop,
        pacer=ScheduledPacer([(0.0, 3), (10.0, 1)]),
        scripts=scripts,
        default=Script(fate="busy", ring=2.0),
    )
    rig.runner.login(A)
    rig.run(until=30.0)
    assert [r.call for r in rig.tel.originated] == ["c1", "c2", "c3", "c4"]
    assert rig.outcome("c2") is AttemptOutcome.FAILED
    assert [r.call for r in rig.results].count(CallId("c2")) == 1
    assert rig.runner.calls_in_flight == 0
    assert rig.runner.snapshot().pending_ages.size == 0
    assert rig.runner.stats.outcomes == {AttemptOutcome.FAILED: 1, AttemptOutcome.BUSY: 3}


def test_a_refused_reserved_originate_releases_the_agent(loop: VirtualTimeLoop) -> None:
    scripts = {num(0): Script(fate="refused")}
    rig = Rig(loop, pacer=ProgressivePacer(), scripts=scripts, default=HUMAN)
    rig.runner.login(A)
    rig.run(until=10.0)
    assert [s for _, s in rig.states_of(A)][:4] == [
        AgentState.READY,
        AgentState.RESERVED,
        AgentState.READY,
        AgentState.RESERVED,
    ]
    assert rig.outcome("c1") is AttemptOutcome.FAILED
    assert rig.bridges() == [("c2", A)]  # the next lead's person reached A


class _BadNumberSupply:
    """Lead 1 carries a dial-string injection instead of a number; the rest are fine."""

    def __init__(self) -> None:
        self.inner = SyntheticPortfolio(100)
        self.finished_calls: list[AttemptResult] = []

    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        got = await self.inner.claim(count, at=at, for_agent=for_agent)
        return [DialTarget(t.lead, "5255&Local/1@x", t.owner) if t.lead == "L1" else t for t in got]

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        pass

    async def finished(self, result: AttemptResult) -> None:
        self.finished_calls.append(result)


def test_a_lead_with_an_invalid_number_fails_that_attempt_only(loop: VirtualTimeLoop) -> None:
    supply = _BadNumberSupply()
    rig = Rig(
        loop,
        pacer=ScheduledPacer([(0.0, 3), (10.0, 1)]),
        leads=supply,
        default=Script(fate="busy", ring=2.0),
    )
    rig.runner.login(A)
    rig.run(until=30.0)
    assert "5255&Local/1@x" not in {r.number for r in rig.tel.originated}
    assert len(rig.tel.originated) == 3
    assert [r.outcome for r in supply.finished_calls if r.target.lead == "L1"] == [
        AttemptOutcome.FAILED
    ]
    assert rig.runner.calls_in_flight == 0


# ---------------------------------------------------------------- the lead supply's hooks


class _RecordingSupply:
    """A supply whose ``started`` really suspends (like a database write) and records."""

    def __init__(self, log: list[tuple[str, str, float]], loop: VirtualTimeLoop) -> None:
        self.inner = SyntheticPortfolio(10_000)
        self.log = log
        self.loop = loop

    async def claim(
        self, count: int, *, at: datetime, for_agent: AgentId | None = None
    ) -> Sequence[DialTarget]:
        return await self.inner.claim(count, at=at, for_agent=for_agent)

    async def started(self, call: CallId, target: DialTarget, *, at: datetime) -> None:
        self.log.append(("started", call, self.loop.time()))
        await asyncio.sleep(0.3)  # the write takes time: originate must wait for it
        self.log.append(("stored", call, self.loop.time()))

    async def finished(self, result: AttemptResult) -> None:
        self.log.append(("finished", result.call, self.loop.time()))


class _LoggingTelephony(ScriptedTelephony):
    def __init__(self, log: list[tuple[str, str, float]], **kw: Any) -> None:
        super().__init__(**kw)
        self.log = log

    async def originate(self, request: Originate) -> None:
        self.log.append(("originate", request.call, self._now()))
        await super().originate(request)


@pytest.mark.parametrize("progressive", [False, True])
def test_started_is_awaited_before_originate_and_finished_comes_once(
    loop: VirtualTimeLoop, progressive: bool
) -> None:
    log: list[tuple[str, str, float]] = []

    def script(request: Originate) -> Script:
        i = int(request.call.removeprefix("c"))
        return Script(fate="refused") if i % 9 == 4 else _mixed(request)

    tel = _LoggingTelephony(log, default=script, loop=loop)
    pacer: Pacer = (
        ProgressivePacer() if progressive else ScheduledPacer([(t, 3) for t in range(0, 200, 8)])
    )
    rig = Rig(loop, pacer=pacer, leads=_RecordingSupply(log, loop), telephony=tel)
    for agent in (A, B):
        rig.runner.login(agent)
    for t in range(20, 260, 20):
        for agent in (A, B):
            rig.at(float(t), _finish_if_wrapping, rig.runner, agent)
    rig.at(200.0, rig.runner.stop_dialling)
    rig.run(until=400.0)  # long enough for every call to end
    calls = [c for kind, c, _ in log if kind == "originate"]
    assert len(calls) >= 15
    assert len(set(calls)) == len(calls)
    position = {(kind, c): i for i, (kind, c, _) in enumerate(log)}
    when = {(kind, c): t for kind, c, t in log}
    for c in calls:
        assert position["started", c] < position["stored", c] < position["originate", c]
        assert when["originate", c] >= when["started", c] + 0.3 - ABS
        assert position["originate", c] < position["finished", c]
    finished = Counter(c for kind, c, _ in log if kind == "finished")
    assert finished == Counter(calls)  # exactly once each, nothing unknown
    started = Counter(c for kind, c, _ in log if kind == "started")
    assert started == Counter(calls)
    assert rig.runner.calls_in_flight == 0


# ---------------------------------------------------------------- property: any traffic

_SCRIPTS = st.builds(
    Script,
    fate=st.sampled_from(["human", "machine", "busy", "no_answer", "failed", "refused"]),
    ring=st.floats(0.0, 30.0),
    decision=st.floats(0.0, 4.0),
    talk=st.floats(0.0, 120.0),
    patience=st.one_of(st.just(math.inf), st.floats(0.0, 20.0)),
    verdict=st.one_of(st.none(), st.sampled_from(AmdVerdict)),
    bridge_delay=st.floats(0.0, 1.0),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scripts=st.lists(_SCRIPTS, min_size=1, max_size=12),
    max_lines=st.one_of(st.none(), st.integers(1, 6)),
    agents=st.integers(1, 4),
    progressive=st.booleans(),
    burst=st.integers(1, 8),
)
def test_any_traffic_keeps_the_books_straight(
    scripts: list[Script], max_lines: int | None, agents: int, progressive: bool, burst: int
) -> None:
    """Whatever the calls do: lines are never exceeded, every attempt is finished exactly
    once, nobody is left reserved or on a call that ended, progressive never abandons."""
    loop = VirtualTimeLoop()
    try:
        pacer: Pacer = ProgressivePacer() if progressive else KeepInFlightPacer(burst)
        rig = Rig(
            loop,
            pacer=pacer,
            default=lambda r: scripts[int(r.call.removeprefix("c")) % len(scripts)],
            settings=CampaignSettings(max_lines=max_lines),
        )
        rig.auto_wrapup(5.0)
        for i in range(agents):
            rig.at(float(i), rig.runner.login, AgentId(f"a{i}"))
        rig.at(120.0, rig.runner.stop_dialling)
        rig.run(until=400.0)  # the longest call lasts < 160 s: all are over by then
    finally:
        loop.close()
    stats = rig.runner.stats
    lines = max_lines if max_lines is not None else 10**9
    assert rig.tel.max_active <= lines
    for snap, decision, in_flight in rig.decisions:
        assert snap.lines_free >= 0
        assert in_flight <= lines
        assert decision.dials >= 0
    finished = Counter(r.call for r in rig.results)
    assert finished == Counter(r.call for r in rig.tel.originated)
    assert set(finished.values()) <= {1}
    assert rig.runner.calls_in_flight == 0
    assert stats.dials == len(rig.tel.originated)
    assert {a.state for a in rig.runner.agents.values()} <= {AgentState.READY}
    assert stats.connected + stats.abandoned + stats.lost <= stats.live
    if progressive:
        assert stats.abandoned == 0
        assert rig.tel.orders_of("play_and_hangup") == [] or all(
            o.prompt != rig.runner.settings.abandon_prompt
            for o in rig.tel.orders_of("play_and_hangup")
        )
