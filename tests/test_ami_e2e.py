"""End to end: the real ``CampaignRunner`` + ``AmiTelephony`` + the AMI emulator over TCP.

The emulator plays modelled seconds ``SCALE`` times faster; the engine runs in wall
seconds, so its connect deadline and tick are scaled the same way (the dialplan's hold
for the engine's Redirect is 3 modelled seconds, the deadline 2). Agents log in through
their phones (the emulator's ``agent_login``): the runner learns it from the adapter's
presence events, never from the test.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from dialer.ami_run import CampaignOutcome, run_campaign
from dialer.errors import TelephonyError
from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import AttemptOutcome
from dialer.settings import CampaignSettings
from pacing.base import Observation, PacingDecision, PacingSnapshot, cap_dials
from pacing.keep_in_flight import KeepInFlightPacer
from pacing.progressive import ProgressivePacer
from pacing.registry import make_pacer
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from simulator.portfolio import SyntheticPortfolio
from telephony.ami import AmiTelephony
from telephony.ami_settings import AmiSettings, Trunk
from telephony.events import (
    AmdVerdict,
    CallAnswered,
    CallBridged,
    CallHungUp,
    CallRinging,
    HangupSide,
)
from telephony.port import Originate
from telephony.presence import AgentJoined, AgentLeft

SCALE = 0.05  # wall seconds per modelled second
T = "PJSIP/{number}@carrier"
SECRET = "s3cr3t-never-logged"


def emulator(order_seed: int | None = None) -> AmiEmulator:
    """``order_seed``: the emulator shuffles what varies between real Asterisk runs
    (where the OriginateResponse falls, ConfbridgeJoin vs BridgeEnter)."""
    plan = DialplanConfig(engine_routing=True, hold=3.0)
    return AmiEmulator(secret=SECRET, time_scale=SCALE, dialplan=plan, order_seed=order_seed)


def ami_settings(emu: AmiEmulator, **over: object) -> AmiSettings:
    base: dict[str, object] = {
        "host": emu.host,
        "port": emu.port,
        "secret": SECRET,
        "trunks": (Trunk(name="carrier", template="PJSIP/{number}@carrier", channels=400),),
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "ping_interval": 0.5,
        "ping_timeout": 2.0,
        "originate_grace": 5.0,
    }
    base.update(over)
    return AmiSettings(**base)  # type: ignore[arg-type]


def campaign(**over: object) -> CampaignSettings:
    base: dict[str, object] = {
        "connect_deadline": 2.0 * SCALE,
        "no_answer_timeout": 25.0,  # modelled: the emulator scales the Originate Timeout
        "tick_interval": 0.25 * SCALE,
        "min_tick_interval": 0.25 * SCALE,
        "machine_prompt": "dialer-machine",
        "lead_retry_interval": 0.05,
    }
    base.update(over)
    return CampaignSettings(**base)  # type: ignore[arg-type]


async def started(emu: AmiEmulator, agents: list[str], **over: object) -> AmiTelephony:
    tel = AmiTelephony([ami_settings(emu, **over)])
    await tel.start()
    for a in agents:
        emu.agent_login(a)
    for _ in range(100):
        if tel.agents_present() >= {AgentId(a) for a in agents}:
            break
        await asyncio.sleep(0.01)
    return tel


def check_accounting(out: CampaignOutcome, emu: AmiEmulator, tel: AmiTelephony) -> None:
    """No dial lost, none counted twice, none left hanging, none dialled twice.

    A dial tried while the server was known to be down is refused before any AMI
    action; one written into a connection that was already dead (before the loss was
    read) never reached the PBX, and reconciliation closes it. Both end as failed
    attempts; every other dial reached the PBX exactly once, never twice."""
    assert out.unfinished == 0
    assert out.duplicates == []
    assert len(out.results) == out.dials
    never_arrived = out.dials - tel.stats["refused"] - emu.originates
    assert 0 <= never_arrived <= out.outcomes["failed"] - tel.stats["refused"]


async def settle_emulator(emu: AmiEmulator, agents: int) -> None:
    for _ in range(200):
        if emu.calls_in_flight <= agents:  # only the agents' own phone calls remain
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{emu.calls_in_flight} calls left on the PBX")


@pytest.mark.asyncio
@pytest.mark.parametrize("order_seed", [None, 1, 2])
async def test_progressive_campaign_with_amd_agents_and_machine_messages(
    order_seed: int | None,
) -> None:
    scripts = [
        CallScript(Outcome.HUMAN, talk=4.0),
        CallScript(Outcome.MACHINE_MESSAGE),
        CallScript(Outcome.BUSY),
        CallScript(Outcome.HUMAN, talk=2.0),
        CallScript(Outcome.NO_ANSWER),
        CallScript(Outcome.ANSWER_HANGUP),
        CallScript(Outcome.CONGESTION),
        CallScript(Outcome.MACHINE),
        CallScript(Outcome.UNALLOCATED),
        CallScript(Outcome.DEAD_AIR_NOMEDIA, talk=2.0),  # NOTSURE: routed as a person
    ]
    async with emulator(order_seed) as emu:
        emu.queue_scripts(*scripts)
        tel = await started(emu, ["1001", "1002"])
        leads = SyntheticPortfolio(len(scripts))
        _runner, out = await run_campaign(
            tel, pacer=ProgressivePacer(), leads=leads, settings=campaign(), timeout=30
        )
        check_accounting(out, emu, tel)
        assert out.dials == len(scripts)
        assert out.outcomes == Counter({
            "connected": 3, "machine": 2, "busy": 1, "no_answer": 1, "failed": 2,
            "hung_up_in_detection": 1,
        })  # fmt: skip
        agents = {r.agent for r in out.results if r.outcome is AttemptOutcome.CONNECTED}
        assert agents <= {AgentId("1001"), AgentId("1002")}
        assert tel.stats["bridges"] == 3
        assert tel.stats["refused"] == 0
        assert tel.stats["machine_messages"] == 2  # the campaign has a machine message
        await settle_emulator(emu, 2)


class OverDial:
    """Predictive stand-in that over-dials hard (``per_agent`` calls in flight per
    logged-in agent), so that some persons find no agent and are abandoned."""

    name = "over-dial"

    def __init__(self, per_agent: int) -> None:
        self.per_agent = per_agent

    def observe(self, obs: Observation) -> None:
        pass

    def next_decision_at(self) -> float:
        return float("-inf")

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        want = self.per_agent * snapshot.logged_in - snapshot.in_flight
        return PacingDecision(cap_dials(max(0, want), snapshot))


@pytest.mark.asyncio
async def test_predictive_campaign_connects_and_abandons_with_message() -> None:
    async with emulator() as emu:
        emu.set_default(CallScript(Outcome.HUMAN, ring=1.0, talk=6.0))
        tel = await started(emu, ["1001", "1002"])
        leads = SyntheticPortfolio(30)
        runner, out = await run_campaign(
            tel, pacer=OverDial(4), leads=leads, settings=campaign(), timeout=30
        )
        check_accounting(out, emu, tel)
        assert out.dials == 30
        o = out.outcomes
        assert o["connected"] >= 4
        assert o["abandoned"] >= 4  # over-dialled persons got the identification message
        assert o["connected"] + o["abandoned"] + o["lost"] == 30
        assert tel.stats["abandon_messages"] == o["abandoned"]
        assert runner.stats.abandoned == o["abandoned"]
        await settle_emulator(emu, 2)


@pytest.mark.asyncio
async def test_predictive_pacer_through_the_adapter() -> None:
    async with emulator() as emu:
        emu.queue_scripts(*[CallScript(Outcome.MACHINE)] * 5)
        emu.set_default(CallScript(Outcome.HUMAN, ring=2.0, talk=8.0))
        tel = await started(emu, ["1001", "1002", "1003"])
        pacer = make_pacer("predictive", abandon_target=0.03, connect_deadline=2.0 * SCALE)
        _runner, out = await run_campaign(
            tel, pacer=pacer, leads=SyntheticPortfolio(25), settings=campaign(), timeout=40
        )
        check_accounting(out, emu, tel)
        assert out.dials == 25
        assert out.outcomes["machine"] == 5
        assert out.outcomes["connected"] >= 10


FAULT_SCRIPTS = [
    CallScript(Outcome.HUMAN, ring=12.0, talk=2.0),
    CallScript(Outcome.NO_ANSWER),
    CallScript(Outcome.MACHINE, ring=8.0),
    CallScript(Outcome.BUSY, ring=10.0),
]


async def fault_run(fault: str, caplog: pytest.LogCaptureFixture) -> CampaignOutcome:
    caplog.set_level(logging.WARNING)
    async with emulator() as emu:
        emu.queue_scripts(*(FAULT_SCRIPTS * 60))
        tel = await started(emu, ["1001", "1002", "1003", "1004"])
        fired: list[float] = []
        tasks: list[asyncio.Task[None]] = []

        def during(runner: object) -> None:
            if fired or tel.calls_in_flight < 100:
                return
            fired.append(tel.calls_in_flight)
            if fault == "cut":
                emu.drop_connections()
            elif fault == "restart":
                tasks.append(asyncio.ensure_future(emu.restart(keep_calls=False, downtime=0.3)))
            else:
                emu.delay_responses(0.4)

        _runner, out = await run_campaign(
            tel,
            pacer=KeepInFlightPacer(110),
            leads=SyntheticPortfolio(240),
            settings=campaign(),
            timeout=60,
            during=during,
        )
        assert fired and fired[0] >= 100, "the fault never met 100 calls in flight"
        check_accounting(out, emu, tel)
        assert out.dials == 240
        if fault != "slow":
            await settle_emulator(emu, 0 if fault == "restart" else 4)
        text = caplog.text
        assert SECRET not in text
        return out


@pytest.mark.asyncio
async def test_connection_cut_with_100_calls_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = await fault_run("cut", caplog)
    assert "connection lost" in caplog.text
    assert "reconciled" in caplog.text
    assert out.outcomes["connected"] > 0


@pytest.mark.asyncio
async def test_pbx_restart_mid_campaign(caplog: pytest.LogCaptureFixture) -> None:
    out = await fault_run("restart", caplog)
    assert "connection lost" in caplog.text
    assert "reconnected" in caplog.text
    # The calls the crash took away were closed once each (failed or hung up).
    assert out.outcomes["failed"] + out.outcomes["hung_up_in_detection"] > 0


@pytest.mark.asyncio
async def test_slow_responses(caplog: pytest.LogCaptureFixture) -> None:
    out = await fault_run("slow", caplog)
    assert out.outcomes["connected"] > 0


@pytest.mark.asyncio
async def test_login_refused_and_unreachable_name_host_port_not_secret() -> None:
    async with emulator() as emu:
        emu.refuse_logins(True)
        tel = AmiTelephony([ami_settings(emu)])
        with pytest.raises(TelephonyError) as err:
            await tel.start()
        text = str(err.value)
        assert f"{emu.host}:{emu.port}" in text and "refused" in text
        assert SECRET not in text and SECRET not in repr(ami_settings(emu))
        port = emu.port
    tel = AmiTelephony([ami_settings(emu, port=port)])
    with pytest.raises(TelephonyError) as err:
        await tel.start()
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "cannot reach" in str(err.value)


@pytest.mark.asyncio
async def test_orders_are_refused_when_unsafe_or_impossible() -> None:
    async with emulator() as emu:
        tel = await started(emu, ["1001"])
        bad = Originate(CallId("c1"), LeadId("l1"), "5215512345678", 25.0,
                        variables={"NOTE": "a,b"})  # fmt: skip
        with pytest.raises(TelephonyError, match="unsafe"):
            await tel.originate(bad)
        with pytest.raises(TelephonyError, match="call id"):
            await tel.originate(Originate(CallId("c/1"), LeadId("l1"), "5215512345678", 25.0))
        assert emu.originates == 0  # nothing reached the PBX
        emu.queue_scripts(CallScript(Outcome.HUMAN, talk=2.0))
        await tel.originate(Originate(CallId("c2"), LeadId("l2"), "+5215512345678", 25.0))
        events = tel.events().__aiter__()
        ev = await asyncio.wait_for(events.__anext__(), 5)
        while not isinstance(ev, CallAnswered):
            ev = await asyncio.wait_for(events.__anext__(), 5)
        await tel.bridge(CallId("c2"), AgentId("1001"))
        ev = await asyncio.wait_for(events.__anext__(), 5)
        assert isinstance(ev, CallBridged) and ev.agent == "1001"
        ev = await asyncio.wait_for(events.__anext__(), 5)
        assert isinstance(ev, CallHungUp)
        # An agent who is not in their conference: refused, and the person is not left
        # waiting: the identification message at once.
        emu.queue_scripts(CallScript(Outcome.HUMAN, talk=2.0))
        await tel.originate(Originate(CallId("c3"), LeadId("l3"), "5215512345678", 25.0))
        ev = await asyncio.wait_for(events.__anext__(), 5)
        while not isinstance(ev, CallAnswered):
            ev = await asyncio.wait_for(events.__anext__(), 5)
        with pytest.raises(TelephonyError, match="not in a conference"):
            await tel.bridge(CallId("c3"), AgentId("9999"))  # nobody in agent-9999
        ev = await asyncio.wait_for(events.__anext__(), 5)
        assert isinstance(ev, CallHungUp) and ev.side is HangupSide.ENGINE
        assert tel.stats["abandon_messages"] == 1
        await tel.close()


@pytest.mark.asyncio
async def test_agent_presence_and_garbage_on_the_wire() -> None:
    async with emulator() as emu:
        tel = await started(emu, [])
        presence = tel.presence().__aiter__()
        emu.agent_login("1001")
        assert await asyncio.wait_for(presence.__anext__(), 2) == AgentJoined(
            AgentId("1001"), pytest.approx(asyncio.get_running_loop().time(), abs=1)
        )
        emu.send_garbage()
        emu.agent_logout("1001")
        left = await asyncio.wait_for(presence.__anext__(), 2)
        assert isinstance(left, AgentLeft) and left.agent == "1001"
        assert tel.servers_up()  # the garbage did not break the connection for good
        await tel.close()


@pytest.mark.asyncio
async def test_several_servers_share_calls_by_free_channels_and_a_dropped_one_gets_none() -> None:
    async with emulator() as a, emulator() as b:
        for emu in (a, b):
            emu.set_default(CallScript(Outcome.NO_ANSWER))  # rings: calls stay in flight
        small = ami_settings(a, name="small", trunks=(Trunk(name="t", template=T, channels=10),))
        big = ami_settings(b, name="big", trunks=(Trunk(name="t", template=T, channels=30),))
        tel = AmiTelephony([small, big])
        await tel.start()
        for i in range(20):
            await tel.originate(Originate(CallId(f"c{i}"), LeadId("l"), "5215512345678", 100.0))
        await asyncio.sleep(0.1)
        # Most free channels (as a share of the trunk) first: 5 on the small, 15 on the big.
        assert (a.originates, b.originates) == (5, 15)
        b.refuse_logins(True)  # down until we let it back in
        await b.restart(keep_calls=False)
        for _ in range(100):
            if len(tel.servers_up()) == 1:
                break
            await asyncio.sleep(0.01)
        assert tel.servers_up() == [small.label]
        for i in range(20, 25):
            await tel.originate(Originate(CallId(f"c{i}"), LeadId("l"), "5215512345678", 100.0))
        await asyncio.sleep(0.1)
        assert (a.originates, b.originates) == (10, 15)  # the dropped server got none
        with pytest.raises(TelephonyError, match="channel limit"):
            await tel.originate(Originate(CallId("c99"), LeadId("l"), "5215512345678", 100.0))
        b.refuse_logins(False)
        for _ in range(300):  # back: its lost calls reconciled (closed), it takes calls again
            if len(tel.servers_up()) == 2 and tel.stats["reconciled"] >= 15:
                break
            await asyncio.sleep(0.02)
        assert len(tel.servers_up()) == 2
        assert tel.calls_in_flight == 10
        await tel.close()


@pytest.mark.asyncio
async def test_agent_leaving_mid_call_is_logged_out_when_the_call_ends() -> None:
    async with emulator() as emu:
        emu.set_default(CallScript(Outcome.HUMAN, ring=0.5, talk=60.0))
        tel = await started(emu, ["1001"])
        leads = SyntheticPortfolio(1)
        seen: list[str] = []

        def during(runner: object) -> None:
            from dialer.runner import CampaignRunner  # noqa: PLC0415

            assert isinstance(runner, CampaignRunner)
            agent = runner.agents.get(AgentId("1001"))
            if agent is None:
                return
            seen.append(str(agent.state))
            if str(agent.state) == "on_call" and "1001" in emu.agents_present():
                emu.agent_logout("1001")  # the phone hangs up in the middle of the call

        runner, out = await run_campaign(
            tel, pacer=ProgressivePacer(), leads=leads, settings=campaign(), timeout=10,
            during=during,
        )  # fmt: skip
        check_accounting(out, emu, tel)
        assert "on_call" in seen
        assert str(runner.agents[AgentId("1001")].state) == "offline"
        assert out.results[0].outcome is AttemptOutcome.CONNECTED


@pytest.mark.asyncio
async def test_a_verdict_reached_during_an_outage_is_read_back() -> None:
    plan = DialplanConfig(engine_routing=True, hold=40.0)  # the person holds 2 s (wall)
    async with AmiEmulator(secret=SECRET, time_scale=SCALE, dialplan=plan) as emu:
        emu.set_default(CallScript(Outcome.HUMAN, ring=2.0, amd_delay=4.0, talk=5.0))
        tel = await started(emu, [])
        await tel.originate(Originate(CallId("c1"), LeadId("l1"), "5215512345678", 25.0))
        events = tel.events().__aiter__()
        assert isinstance(await asyncio.wait_for(events.__anext__(), 2), CallRinging)
        await asyncio.sleep(2.2 * SCALE)  # answered, detection running
        emu.refuse_logins(True)
        emu.drop_connections()
        await asyncio.sleep(6.0 * SCALE)  # the verdict happens while we are away
        emu.refuse_logins(False)
        ev = await asyncio.wait_for(events.__anext__(), 5)
        assert isinstance(ev, CallAnswered) and ev.verdict is AmdVerdict.HUMAN
        await tel.hangup(CallId("c1"))
        ev = await asyncio.wait_for(events.__anext__(), 5)
        assert isinstance(ev, CallHungUp)
        await tel.close()


@pytest.mark.asyncio
async def test_no_pong_in_time_drops_and_remakes_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with emulator() as emu:
        over = {"ping_interval": 0.1, "ping_timeout": 0.2, "action_timeout": 0.3}
        tel = await started(emu, [], **over)
        emu.delay_responses(1.0)  # a PBX too slow to answer a Ping in time
        for _ in range(100):
            if not tel.servers_up():
                break
            await asyncio.sleep(0.02)
        assert not tel.servers_up()
        with pytest.raises(TelephonyError, match="dialling paused"):
            await tel.originate(Originate(CallId("c1"), LeadId("l1"), "5215512345678", 25.0))
        emu.delay_responses(0.0)
        for _ in range(200):
            if tel.servers_up():
                break
            await asyncio.sleep(0.02)
        assert tel.servers_up()
        assert "no Pong within 0.2 s; dropping the connection" in caplog.text
        assert "reconnected and logged in" in caplog.text
        assert SECRET not in caplog.text
        await tel.close()


@pytest.mark.asyncio
async def test_engine_amd_verdict_from_the_audiosocket_callback() -> None:
    """Our detector's verdict arrives through ``engine_verdict(as_uuid, ...)`` (the
    AudioSocket server's callback), not over AMI; the engine then routes as usual."""
    async with emulator() as emu:
        emu.set_default(CallScript(Outcome.HUMAN, ring=1.0, amd_delay=1.0, talk=4.0))
        tel = await started(emu, ["1001"], outbound_context="dialer-as", outbound_exten="as")
        request = Originate(CallId("c1"), LeadId("l1"), "5215512345678", 25.0,
                            variables={"HOLD": "40"})  # fmt: skip
        await tel.originate(request)
        as_uuid = tel.as_uuid(CallId("c1"))
        assert as_uuid is not None and len(as_uuid) == 36
        events = tel.events().__aiter__()
        assert isinstance(await asyncio.wait_for(events.__anext__(), 2), CallRinging)
        await asyncio.sleep(2.5 * SCALE)  # answered; our detector has been listening
        tel.engine_verdict(as_uuid, AmdVerdict.HUMAN)
        tel.engine_verdict(as_uuid, AmdVerdict.MACHINE)  # a second verdict is ignored
        ev = await asyncio.wait_for(events.__anext__(), 2)
        assert isinstance(ev, CallAnswered) and ev.verdict is AmdVerdict.HUMAN
        assert ev.answered_at < ev.at
        await tel.bridge(CallId("c1"), AgentId("1001"))
        ev = await asyncio.wait_for(events.__anext__(), 2)
        assert isinstance(ev, CallBridged) and ev.agent == "1001"
        ev = await asyncio.wait_for(events.__anext__(), 5)
        assert isinstance(ev, CallHungUp)
        await tel.close()


@pytest.mark.asyncio
async def test_engine_exten_falls_back_to_amd_when_our_detector_is_unreachable() -> None:
    async with emulator() as emu:
        emu.set_default(CallScript(Outcome.MACHINE, ring=1.0))
        tel = await started(emu, [], outbound_exten="engine")
        await tel.originate(Originate(CallId("c1"), LeadId("l1"), "5215512345678", 25.0))
        events = tel.events().__aiter__()
        ev = await asyncio.wait_for(events.__anext__(), 5)
        while not isinstance(ev, CallAnswered):
            ev = await asyncio.wait_for(events.__anext__(), 5)
        assert ev.verdict is AmdVerdict.MACHINE  # TryExec failed: AMD() decided
        await tel.hangup(CallId("c1"))
        assert isinstance(await asyncio.wait_for(events.__anext__(), 5), CallHungUp)
        await tel.close()
