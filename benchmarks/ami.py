"""AMI benchmark: the production telephony path under load.

Three measurements, printed as a table and written to ``--out`` as ``ami.md`` and
``ami.json``:

1. **AMI events parsed and translated per second** (target >= 50,000/s), in this
   process, on the wire bytes of every fixture transcript (``../shared/fixtures/
   asterisk-ami``), with their calls registered so that the translator does real work:
   (a) through the adapter's ``AmiProtocol.data_received`` (panoramisk's protocol with
   our ``AmiParser``) into ``AmiTranslator.feed``: exactly what the adapter runs;
   (b) ``AmiParser`` + translator alone; (c) for comparison, panoramisk's own parser
   and ``Manager.dispatch`` + ``message_dict`` (what the adapter does not use).
2. **Originates per second sustained** (target >= 1,500/s): ``AmiTelephony.originate``
   as fast as the adapter accepts them, at most ``--in-flight`` calls at once, against
   the AMI emulator in a separate process (its own core), for ``--seconds``; counted
   from the first originate to the last OriginateResponse.
3. **Engine decision latency** (target p99 <= 10 ms) with ``--in-flight`` (2,000) calls in
   flight: the real ``CampaignRunner`` + adapter against the emulator; latency is from
   the moment the adapter read the AMD verdict off the socket to the moment the runner's
   order (bridge, hang-up) was given for that call, or, for the abandon message, from
   the moment its connect deadline fell due (``_TimedTelephony``). Percentiles are over
   the steady state (after the calls in flight first reached the target); the ramp-up
   (the first 2,000 originates in a burst) is reported apart.

Peak memory is the ``ru_maxrss`` of this process (runner + adapter) and of the emulator.

    python -m benchmarks.ami [--seconds 10] [--in-flight 2000] [--agents 300] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from dialer.ami_run import run_campaign
from dialer.ids import AgentId, CallId, LeadId
from dialer.settings import CampaignSettings
from pacing.keep_in_flight import KeepInFlightPacer
from simulator.portfolio import SyntheticPortfolio
from telephony.ami import AmiTelephony
from telephony.ami_codec import AmiParser
from telephony.ami_connection import AmiProtocol, message_dict
from telephony.ami_settings import AmiSettings, Trunk
from telephony.ami_translate import AmiTranslator
from telephony.events import CallAnswered, CallEvent, CallFailed, CallHungUp
from telephony.port import Originate

ROOT = Path(__file__).resolve().parents[1]
TRANSCRIPTS = ROOT.parent / "shared" / "fixtures" / "asterisk-ami" / "transcripts"
# This run's emulator and adapter share it; the emulator's process gets it through its
# environment (never its command line, which ps shows).
SECRET_ENV = "DIALER_BENCH_AMI_SECRET"
SECRET = os.environ.get(SECRET_ENV) or secrets.token_hex(16)
_HEAD = re.compile(r"^### \+(\d+\.\d+) (>>> sent|<<< recv)\n", re.M)


# ---------------------------------------------------------------- 1. parse + translate


def _transcripts() -> list[tuple[list[tuple[str, str, str | None]], bytes]]:
    """Per transcript: its originates (call, action id, channel id) and received bytes."""
    out = []
    for path in sorted(TRANSCRIPTS.glob("*.txt")):
        parts = _HEAD.split(path.read_text(encoding="utf-8"))
        calls, wire = [], []
        for i in range(1, len(parts), 3):
            body = parts[i + 2].rstrip("\n")
            if parts[i + 1] == ">>> sent":
                h = [ln.partition(": ") for ln in body.split("\n")]
                d = {k: v for k, _, v in h}
                variables = dict(v.split("=", 1) for k, _, v in h if k == "Variable")
                if d.get("Action") == "Originate" and "CALLID" in variables:
                    calls.append((variables["CALLID"], d["ActionID"], d.get("ChannelId")))
            elif body.startswith("Asterisk Call Manager/"):
                wire.append(body.encode() + b"\r\n")
            else:
                wire.append(body.replace("\n", "\r\n").encode() + b"\r\n\r\n")
        out.append((calls, b"".join(wire)))
    return out


def _placed(calls: list[tuple[str, str, str | None]]) -> AmiTranslator:
    tr = AmiTranslator()
    for call, action_id, channel_id in calls:
        tr.placed(CallId(call), action_id=action_id, unique_id=channel_id)
    return tr


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def bench_translate(seconds: float) -> dict[str, Any]:
    data = _transcripts()
    chunk = 4096

    def ours() -> int:
        n = 0
        for calls, wire in data:
            tr, parser = _placed(calls), AmiParser()
            for i in range(0, len(wire), chunk):
                for msg in parser.feed(wire[i : i + chunk]):
                    tr.feed(msg, 0.0)
                    n += 1
        return n

    def panoramisk_path() -> int:
        counter = [0]
        for calls, wire in data:
            tr = _placed(calls)
            manager = Manager()
            manager.patterns.clear()  # drop its FullyBooted hook (needs a running loop)
            manager.callbacks.clear()

            def on_event(_m: object, msg: Any, tr: AmiTranslator = tr) -> None:
                counter[0] += 1
                tr.feed(message_dict(msg), 0.0)

            manager.register_event("*", on_event)
            proto = AMIProtocol()
            proto.connection_made(_Transport())
            proto.factory = manager
            proto.encoding = "utf8"
            for i in range(0, len(wire), chunk):
                proto.data_received(wire[i : i + chunk])
        return counter[0]

    def adapter_path() -> int:
        counter = [0]
        for calls, wire in data:
            tr = _placed(calls)

            class Factory:
                def dispatch_dict(self, msg: dict[str, str], tr: AmiTranslator = tr) -> None:
                    counter[0] += 1
                    tr.feed(msg, 0.0)

            proto = AmiProtocol()
            proto.connection_made(_Transport())
            proto.factory = Factory()
            proto.encoding = "utf8"
            for i in range(0, len(wire), chunk):
                proto.data_received(wire[i : i + chunk])
        return counter[0]

    out: dict[str, Any] = {"transcripts": len(data), "bytes": sum(len(w) for _, w in data)}
    paths = (("adapter", adapter_path), ("panoramisk", panoramisk_path), ("ami_parser", ours))
    for name, fn in paths:
        events, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            events += fn()
        took = time.perf_counter() - t0
        out[f"{name}_events_per_s"] = round(events / took)
        out["events_per_pass"] = fn()
    return out


# ---------------------------------------------------------------- the emulator process


def serve(agents: int, script: str) -> None:
    """Run the AMI emulator (child process): print the port, serve until stdin closes."""
    import random  # noqa: PLC0415

    from simulator.ami_calls import DialplanConfig  # noqa: PLC0415
    from simulator.ami_emulator import AmiEmulator  # noqa: PLC0415
    from simulator.ami_scripts import CallScript, Outcome  # noqa: PLC0415

    rng = random.Random(7)

    def mixed() -> CallScript:
        # Spread over time like real traffic (not in lockstep): 70% people, 30% machines.
        outcome = Outcome.HUMAN if rng.random() < 0.7 else Outcome.MACHINE
        return CallScript(
            outcome, ring=rng.uniform(1, 10), amd_delay=rng.uniform(1, 3), talk=rng.uniform(3, 9)
        )

    async def main() -> None:
        emu = AmiEmulator(
            secret=SECRET,
            dialplan=DialplanConfig(engine_routing=True, hold=3.0),
            default_script=CallScript(Outcome.BUSY, ring=0.2),
        )
        if script == "mixed":
            emu.queue_scripts(*(mixed() for _ in range(300_000)))
        await emu.start()
        for i in range(agents):
            emu.agent_login(str(1001 + i))
        print(emu.port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        await emu.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"emulator_peak_rss_mib": round(rss / 1024)}), flush=True)

    asyncio.run(main())


class _Emulator:
    def __init__(self, agents: int, script: str) -> None:
        cmd = [sys.executable, "-m", "benchmarks.ami", "--serve", str(agents), script]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, SECRET_ENV: SECRET},
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        tail = self.proc.stdout.read()
        self.proc.wait(30)
        for line in tail.splitlines():
            if line.startswith("{"):
                result: dict[str, Any] = json.loads(line)
                return result
        return {}


def _settings(port: int, channels: int) -> AmiSettings:
    trunk = Trunk(name="bench", template="PJSIP/{number}@carrier", channels=channels)
    return AmiSettings(port=port, secret=SECRET, trunks=(trunk,), action_timeout=30.0)


# ---------------------------------------------------------------- 2. originates per second


async def _originate_rate(port: int, seconds: float, in_flight: int) -> dict[str, Any]:
    tel = AmiTelephony([_settings(port, in_flight)])
    await tel.start()
    loop = asyncio.get_running_loop()
    ended = 0
    last_end = 0.0

    async def drain() -> None:
        nonlocal ended, last_end
        async for ev in tel.events():
            if isinstance(ev, (CallFailed, CallHungUp)):
                ended += 1
                last_end = loop.time()

    consumer = asyncio.ensure_future(drain())
    sent, t0 = 0, loop.time()
    while loop.time() - t0 < seconds:
        if tel.calls_in_flight >= in_flight:
            await asyncio.sleep(0.001)
            continue
        sent += 1
        number = f"52155{sent:08d}"
        await tel.originate(Originate(CallId(f"b{sent}"), LeadId(f"l{sent}"), number, 25.0))
        if sent % 200 == 0:
            await asyncio.sleep(0)  # let responses in
    accepted_for = loop.time() - t0
    for _ in range(3000):
        if ended >= sent:
            break
        await asyncio.sleep(0.01)
    await tel.close()
    consumer.cancel()
    span = (last_end or loop.time()) - t0
    return {
        "originates": sent,
        "seconds": round(accepted_for, 2),
        "originates_per_s": round(sent / accepted_for),
        "completed": ended,
        "completed_per_s": round(ended / span) if span > 0 else 0,
    }


# ---------------------------------------------------------------- 3. decision latency


class _TimedTelephony(AmiTelephony):
    """Times the engine's decisions.

    A verdict is stamped when the adapter reads it off the socket. An order given while
    the runner handles that very verdict (bridge to a ready agent, hang up a machine) is
    an immediate decision: its latency is order time - verdict time. An order given
    later by the connect-deadline timer (the abandon message) is timed against the
    moment it was due, verdict + ``deadline``. A person bridged later, when an agent
    became free, waited for the agent, not for the engine: counted apart.
    """

    def __init__(self, servers: list[AmiSettings], deadline: float) -> None:
        super().__init__(servers)
        self.deadline = deadline
        self.verdict_at: dict[CallId, float] = {}
        self.latencies: list[float] = []
        self.steady_latencies: list[float] = []
        self.steady = False  # set once the calls in flight first reach the target
        self.waited_for_agent = 0
        self._handling: CallId | None = None

    def _emit(self, server: Any, events: list[Any]) -> None:
        now = asyncio.get_running_loop().time()
        for ev in events:
            if isinstance(ev, CallAnswered):
                self.verdict_at[ev.call] = now
        super()._emit(server, events)

    def events(self) -> AsyncIterator[CallEvent]:
        return self._watch(super().events())

    async def _watch(self, stream: AsyncIterator[CallEvent]) -> AsyncIterator[CallEvent]:
        it = stream.__aiter__()
        while True:
            self._handling = None  # the runner finished with the previous event
            try:
                ev = await it.__anext__()
            except StopAsyncIteration:
                return
            self._handling = ev.call if isinstance(ev, CallAnswered) else None
            yield ev

    def _decided(self, call: CallId, *, timer: bool) -> None:
        t = self.verdict_at.pop(call, None)
        if t is None:
            return
        now = asyncio.get_running_loop().time()
        if call == self._handling:
            late = now - t
        elif timer:
            late = max(0.0, now - (t + self.deadline))
        else:
            self.waited_for_agent += 1
            return
        self.latencies.append(late)
        if self.steady:
            self.steady_latencies.append(late)

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        self._decided(call, timer=False)
        await super().bridge(call, agent)

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        self._decided(call, timer=True)
        await super().play_and_hangup(call, prompt)

    async def hangup(self, call: CallId) -> None:
        self._decided(call, timer=False)
        await super().hangup(call)


async def _latency(port: int, seconds: float, in_flight: int, agents: int) -> dict[str, Any]:
    deadline = 2.0
    tel = _TimedTelephony([_settings(port, in_flight + 500)], deadline)
    await tel.start()
    for _ in range(200):
        if len(tel.agents_present()) >= agents:
            break
        await asyncio.sleep(0.01)
    peak = [0]

    def during(runner: Any) -> None:
        peak[0] = max(peak[0], runner.calls_in_flight)
        if runner.calls_in_flight >= 0.95 * in_flight:
            tel.steady = True

    settings = CampaignSettings(
        no_answer_timeout=25.0,
        lead_retry_interval=1.0,
        connect_deadline=deadline,
        max_lines=in_flight,
    )
    runner, out = await run_campaign(
        tel,
        pacer=KeepInFlightPacer(in_flight),
        leads=SyntheticPortfolio(10_000_000),
        settings=settings,
        wrapup=0.5,
        timeout=seconds,
        during=during,
    )
    lat = sorted(tel.steady_latencies)
    every = sorted(tel.latencies)

    def q(p: float, xs: list[float] = lat) -> float:
        return round(1000 * xs[min(len(xs) - 1, int(p * len(xs)))], 3) if xs else float("nan")

    return {
        "decisions": len(lat),
        "decisions_incl_ramp_up": len(every),
        "latency_ms_p99_incl_ramp_up": q(0.99, every),
        "bridged_after_waiting_for_an_agent": tel.waited_for_agent,
        "calls_in_flight_peak": peak[0],
        "dials": out.dials,
        "latency_ms_p50": q(0.50),
        "latency_ms_p99": q(0.99),
        "latency_ms_max": round(1000 * lat[-1], 3) if lat else float("nan"),
        "connected": runner.stats.connected,
        "abandoned": runner.stats.abandoned,
        "outcomes": dict(sorted(out.outcomes.items())),
    }


# ---------------------------------------------------------------- report


def _table(r: dict[str, Any]) -> str:
    t, o, lat = r["translate"], r["originate"], r["latency"]
    rows = [
        (
            "events parsed+translated /s (adapter's protocol)",
            t["adapter_events_per_s"],
            ">= 50,000",
        ),
        ("  same, AmiParser + translator alone", t["ami_parser_events_per_s"], ""),
        ("  same, panoramisk's own parser + dispatch", t["panoramisk_events_per_s"], "(not used)"),
        ("originates /s accepted (sustained)", o["originates_per_s"], ">= 1,500"),
        ("calls completed /s (OriginateResponse)", o["completed_per_s"], ""),
        ("calls in flight (peak, latency run)", lat["calls_in_flight_peak"], "2,000"),
        ("decision latency p50 (ms)", lat["latency_ms_p50"], ""),
        ("decision latency p99 (ms)", lat["latency_ms_p99"], "<= 10"),
        ("decision latency max (ms)", lat["latency_ms_max"], ""),
        ("decisions measured (steady state)", lat["decisions"], ""),
        ("decision latency p99 incl. the ramp-up (ms)", lat["latency_ms_p99_incl_ramp_up"], ""),
        ("peak RSS, runner + adapter (MiB)", r["peak_rss_mib"], ""),
        ("peak RSS, emulator (MiB)", r.get("emulator_peak_rss_mib", "?"), ""),
    ]
    lines = ["# AMI benchmark", "", f"`{r['command']}`", "", "| measure | value | target |",
             "|---|---:|---|"]  # fmt: skip
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ami", description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--in-flight", type=int, default=2000)
    p.add_argument("--agents", type=int, default=300)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--serve", nargs=2, metavar=("AGENTS", "SCRIPT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    result: dict[str, Any] = {
        "command": "python -m benchmarks.ami " + " ".join(argv or sys.argv[1:])
    }
    result["translate"] = bench_translate(min(args.seconds, 3.0))
    emu = _Emulator(0, "busy")
    try:
        result["originate"] = asyncio.run(_originate_rate(emu.port, args.seconds, args.in_flight))
    finally:
        emu.stop()
    emu = _Emulator(args.agents, "mixed")
    try:
        result["latency"] = asyncio.run(
            _latency(emu.port, args.seconds * 3, args.in_flight, args.agents)
        )
    finally:
        result.update(emu.stop())
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["cpu_count"] = os.cpu_count()
    table = _table(result)
    print(table)
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ami.md").write_text(table, encoding="utf-8")
    (args.out / "ami.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
