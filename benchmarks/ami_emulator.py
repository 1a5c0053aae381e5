"""How much traffic the AMI emulator sustains on one core (the adapter benchmark's PBX).

Two measurements, client and emulator in this one process (one core, so the figures
include the client's own reading cost and are conservative for the emulator):

- burst: ``--burst`` async Originates written at once on one connection; the time until
  every ``Originate successfully queued`` has come back, and the calls then in flight;
- steady: Originates at ``--rate`` per second for ``--seconds``, each call living about
  ``--hold`` seconds (a MACHINE answered at once, detected at ``hold``, hung up), so that
  rate x hold calls are in flight; reports the rate achieved, the peak in flight, the
  events and bytes sent per second, and the event loop's lag (p50/p99/max, ms), which
  is how late the emulator's timers fire under that load.

Target (issue 4): >= 1,500 originates/s with 2,000 calls in flight.

    python -m benchmarks.ami_emulator [--burst 2000] [--rate 1500] [--seconds 5]
                                      [--hold 1.4] [--events on|call,user]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence

from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome


def _originate(i: int) -> str:
    return (
        f"Action: Originate\r\nActionID: o{i}\r\nAsync: true\r\n"
        f"Channel: PJSIP/52155{i:08d}@trunk\r\nContext: dialer-outbound\r\nExten: amd\r\n"
        f'Priority: 1\r\nTimeout: 30000\r\nCallerID: "Dialer" <5550100>\r\n'
        f"ChannelId: c{i}-a\r\nVariable: DIALER_CALLID=c{i}\r\n"
        f"Variable: DIALER_LEADID=l{i}\r\n\r\n"
    )


class _Counter:
    def __init__(self) -> None:
        self.queued = 0
        self.events = 0
        self.bytes = 0


async def _client(emu: AmiEmulator, events: str, counter: _Counter) -> asyncio.StreamWriter:
    r, w = await asyncio.open_connection(emu.host, emu.port)
    await r.readline()
    w.write(
        f"Action: Login\r\nUsername: dialer\r\nSecret: {emu.secret}\r\n"
        f"Events: {events}\r\n\r\n".encode()
    )

    async def read() -> None:
        pending = b""  # count in complete lines only: a marker may straddle two reads
        while data := await r.read(1 << 20):
            counter.bytes += len(data)
            pending += data
            cut = pending.rfind(b"\n") + 1
            lines, pending = pending[:cut], pending[cut:]
            counter.queued += lines.count(b"successfully queued")
            counter.events += lines.count(b"Event: ")

    asyncio.get_running_loop().create_task(read())
    return w


async def burst(n: int, events: str) -> None:
    script = CallScript(Outcome.HUMAN, ring=30.0, hangup_after=60.0)
    async with AmiEmulator(default_script=script) as emu:
        c = _Counter()
        w = await _client(emu, events, c)
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        w.write("".join(_originate(i) for i in range(n)).encode())
        while c.queued < n:
            await asyncio.sleep(0.0005)
        dt = time.perf_counter() - t0
        print(
            f"burst: {n} originates accepted in {dt * 1000:.0f} ms = {n / dt:,.0f}/s; "
            f"in flight {emu.calls_in_flight}; events {events}"
        )
        w.close()


async def steady(rate: float, seconds: float, hold: float, events: str) -> None:
    script = CallScript(Outcome.MACHINE, ring=0.0, amd_delay=hold, hangup_after=600.0)
    loop = asyncio.get_running_loop()
    async with AmiEmulator(default_script=script) as emu:
        c = _Counter()
        w = await _client(emu, events, c)
        await asyncio.sleep(0.05)
        lags: list[float] = []
        peak = 0
        tick = 0.01
        sent = 0
        t0 = loop.time()
        next_tick = t0
        while True:
            now = loop.time()
            lags.append(max(0.0, now - next_tick) * 1000)
            elapsed = now - t0
            if elapsed >= seconds:
                break
            due = int(rate * elapsed) - sent
            if due > 0:
                w.write("".join(_originate(sent + i) for i in range(due)).encode())
                sent += due
            peak = max(peak, emu.calls_in_flight)
            next_tick = now + tick
            await asyncio.sleep(tick)
        wall = loop.time() - t0
        while c.queued < sent and loop.time() - t0 < seconds + 5:
            await asyncio.sleep(0.01)
        q = statistics.quantiles(lags, n=100)
        print(
            f"steady: {c.queued:,} of {sent:,} originates accepted in {wall:.1f} s "
            f"= {c.queued / wall:,.0f}/s; peak in flight {peak:,}; "
            f"{c.events / wall:,.0f} events/s, {c.bytes / wall / 1e6:.1f} MB/s to the client; "
            f"loop lag p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(lags):.1f} ms; "
            f"events {events}"
        )
        w.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ami_emulator", description=__doc__)
    p.add_argument("--burst", type=int, default=2000, help="originates in the burst")
    p.add_argument("--rate", type=float, default=1500.0, help="steady originates per second")
    p.add_argument("--seconds", type=float, default=5.0, help="length of the steady run")
    p.add_argument("--hold", type=float, default=1.4, help="seconds each steady call lives")
    p.add_argument("--events", default="on", help="Login Events: value (on, call,user...)")
    args = p.parse_args(argv)
    asyncio.run(burst(args.burst, args.events))
    asyncio.run(steady(args.rate, args.seconds, args.hold, args.events))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
