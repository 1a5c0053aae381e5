"""Fault injection in the AMI emulator, and a panoramisk smoke test (the real client)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from panoramisk import Manager

from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome
from tests.ami_raw_client import RAW_SECRET, RawAmiClient, field

SCALE = 0.02
# Calls that stay up (in AMD) for the whole test: one channel each on a trunk.
LONG_CALL = CallScript(Outcome.HUMAN, ring=0.0, amd_delay=600.0, hangup_after=900.0)


_OPEN: list[RawAmiClient] = []


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[AmiEmulator]:
    async with AmiEmulator(secret=RAW_SECRET, time_scale=SCALE, default_script=LONG_CALL) as e:
        yield e
        for c in _OPEN:
            await c.close()
        _OPEN.clear()


async def raw(emu: AmiEmulator) -> RawAmiClient:
    c = RawAmiClient()
    _OPEN.append(c)
    await c.connect(emu.host, emu.port)
    return c


async def connected(emu: AmiEmulator, events: str = "on") -> RawAmiClient:
    c = await raw(emu)
    resp = await c.login(events=events)
    assert field(resp, "Response") == "Success"
    return c


def originate(c: RawAmiClient, n: int) -> None:
    for i in range(n):
        c.send(
            ("Action", "Originate"),
            ("ActionID", f"o{i}"),
            ("Async", "true"),
            ("Channel", f"PJSIP/52155000000{i:02d}@trunk"),
            ("ChannelId", f"c{i}-a"),
            ("Context", "dialer-outbound"),
            ("Exten", "amd"),
        )


async def list_channels(c: RawAmiClient, aid: str) -> int:
    c.send(("Action", "CoreShowChannels"), ("ActionID", aid))
    done = await c.wait_for(
        lambda b: field(b, "Event") == "CoreShowChannelsComplete" and field(b, "ActionID") == aid
    )
    return int(field(done, "ListItems"))


@pytest.mark.asyncio
async def test_drop_connections_keeps_the_calls(emu: AmiEmulator) -> None:
    c = await connected(emu)
    originate(c, 5)
    await c.wait_for(
        lambda b: field(b, "Event") == "OriginateResponse" and field(b, "ActionID") == "o4"
    )
    emu.drop_connections()
    with pytest.raises(ConnectionError):
        await c.wait_for(lambda b: False, timeout=2.0)
    assert emu.calls_in_flight == 5
    c2 = await connected(emu)
    assert await list_channels(c2, "l") == 5


@pytest.mark.asyncio
@pytest.mark.parametrize("keep_calls", [False, True])
async def test_restart_is_a_new_boot(emu: AmiEmulator, keep_calls: bool) -> None:
    c = await connected(emu)
    originate(c, 3)
    await c.wait_for(
        lambda b: field(b, "Event") == "OriginateResponse" and field(b, "ActionID") == "o2"
    )
    port = emu.port
    restarting = asyncio.create_task(emu.restart(keep_calls=keep_calls, downtime=0.3))
    await asyncio.sleep(0.1)
    with pytest.raises(OSError):  # nothing listens while it is down
        await asyncio.open_connection(emu.host, port)
    await restarting
    assert emu.port == port
    c2 = await connected(emu)
    booted = await c2.event("FullyBooted")
    assert int(field(booted, "Uptime")) <= 1
    assert await list_channels(c2, "l") == (3 if keep_calls else 0)


@pytest.mark.asyncio
async def test_refused_logins(emu: AmiEmulator) -> None:
    emu.refuse_logins(True)
    c = await raw(emu)
    resp = await c.login()
    assert field(resp, "Message") == "Authentication failed"
    emu.refuse_logins(False)
    await connected(emu)


@pytest.mark.asyncio
async def test_delayed_responses_keep_their_order(emu: AmiEmulator) -> None:
    c = await connected(emu)
    emu.delay_responses(0.3)
    t0 = asyncio.get_running_loop().time()
    c.send(("Action", "Ping"), ("ActionID", "p1"))
    c.send(("Action", "Ping"), ("ActionID", "p2"))
    await c.response("p2", timeout=3)
    assert asyncio.get_running_loop().time() - t0 >= 0.29
    ids = [field(b, "ActionID") for b in c.blocks if field(b, "Ping")]
    assert ids == ["p1", "p2"]
    emu.delay_responses(0)
    c.send(("Action", "Ping"), ("ActionID", "p3"))
    await c.response("p3", timeout=0.2)
    with pytest.raises(ValueError, match="delay"):
        emu.delay_responses(-1)


@pytest.mark.asyncio
async def test_garbage_from_the_server_and_to_the_server(emu: AmiEmulator) -> None:
    c = await connected(emu)
    emu.send_garbage()
    emu.send_garbage(b"\x00\x01\r\n\r\n")
    # A client that survives the garbage still gets answers on the same connection.
    c.send(("Action", "Ping"), ("ActionID", "after"))
    await c.response("after")
    # Garbage the other way: non-UTF-8, lines without a colon, no Action.
    c.send_raw(b"\xff\xfe nonsense\r\nKey: \xc3\x28\r\n\r\n")
    c.send(("Action", "Ping"), ("ActionID", "still"))
    await c.response("still")
    errors = [b for b in c.blocks if field(b, "Message") == "Missing action in request"]
    assert len(errors) == 1
    # A block larger than the limit is refused and the connection closed, nothing else.
    c.send_raw(b"Action: Ping\r\nX: " + b"a" * 300_000)
    with pytest.raises(ConnectionError):
        await c.wait_for(lambda b: False, timeout=2.0)
    c2 = await connected(emu)
    c2.send(("Action", "Ping"), ("ActionID", "fresh"))
    await c2.response("fresh")


@pytest.mark.asyncio
async def test_panoramisk_connects_logs_in_pings_and_gets_events(emu: AmiEmulator) -> None:
    events: list[Any] = []
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=emu.host,
        port=emu.port,
        username="dialer",
        secret=RAW_SECRET,
        ping_delay=60,
    )
    manager.register_event("*", lambda _mgr, event: events.append(event))
    await manager.connect()
    for _ in range(200):
        if manager.authenticated:
            break
        await asyncio.sleep(0.01)
    assert manager.authenticated
    pong = await manager.send_action({"Action": "Ping"})
    assert pong.Ping == "Pong"
    emu.set_default(CallScript(Outcome.BUSY))
    queued = await manager.send_action(
        {
            "Action": "Originate",
            "Async": "false",  # panoramisk returns on the Response; events come apart
            "Channel": "PJSIP/5215512345678@trunk",
            "Context": "dialer-outbound",
            "Exten": "amd",
            "Priority": "1",
        }
    )
    assert queued.Message == "Originate successfully queued"
    for _ in range(200):
        if any(e.event == "Hangup" for e in events):
            break
        await asyncio.sleep(0.01)
    names = {e.event for e in events}
    assert {"FullyBooted", "Newchannel", "DialBegin", "DialEnd", "Hangup"} <= names
    # Async: true: panoramisk's future completes with the OriginateResponse, which it
    # matches by ActionID (fixtures README, panoramisk traps).
    emu.set_default(CallScript(Outcome.HUMAN, ring=1.0))
    answered = await manager.send_action(
        {
            "Action": "Originate",
            "Async": "true",
            "Channel": "PJSIP/5215512345678@trunk",
            "Context": "dialer-outbound",
            "Exten": "amd",
            "Priority": "1",
        }
    )
    assert [m.get("Response") for m in answered] == ["Success", "Success"]
    assert answered[-1].Reason == "4"
    manager.close()


@pytest.mark.asyncio
async def test_a_client_that_stops_reading_is_cut_off() -> None:
    # manager.conf writetimeout: Asterisk drops a session whose events pile up.
    script = CallScript(Outcome.HUMAN, ring=0.0, amd_delay=600.0)
    async with AmiEmulator(secret=RAW_SECRET, default_script=script, write_timeout=1.0) as emu:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (emu.host, emu.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        await reader.readline()
        writer.write(f"Action: Login\r\nUsername: dialer\r\nSecret: {RAW_SECRET}\r\n\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.05)  # logged in; from now on it never reads again
        c = await connected(emu)
        # Small batches: client and emulator share this loop, so one huge burst would
        # stall the reading client too.
        for batch in range(15):
            for i in range(batch * 200, batch * 200 + 200):
                c.send(("Action", "UserEvent"), ("ActionID", f"u{i}"), ("UserEvent", "x" * 4000))
            await c.response(f"u{batch * 200 + 199}", timeout=10)
        for _ in range(250):
            if len(emu.sessions) == 1:
                break
            await asyncio.sleep(0.02)
        assert len(emu.sessions) == 1  # the reading client is still there
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        for cl in _OPEN:
            await cl.close()
        _OPEN.clear()
