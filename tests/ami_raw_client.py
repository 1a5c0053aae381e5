"""A minimal raw AMI client for the emulator's tests: TCP, CRLF blocks, nothing else.

Deliberately independent of panoramisk and of the adapter, so the emulator is tested
against the protocol itself. Every block received is kept, in order, as a list of
``(key, value)`` pairs (keys may repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

Block = list[tuple[str, str]]


def originate_headers(call: str, exten: str) -> Block:
    """The headers every test Originate shares: async, ActionID ``o-CALL``, the dialer
    leg's ChannelId ``CALL-a``, into ``dialer-outbound,EXTEN``. Callers add Priority and
    their channel variables."""
    return [
        ("Action", "Originate"),
        ("ActionID", f"o-{call}"),
        ("Async", "true"),
        ("Channel", "PJSIP/5215512345678@trunk"),
        ("ChannelId", f"{call}-a"),
        ("Context", "dialer-outbound"),
        ("Exten", exten),
    ]


def field(block: Block, key: str, default: str = "") -> str:
    for k, v in block:
        if k == key:
            return v
    return default


# The secret the emulator is given in the tests that log in with this client.
RAW_SECRET = "secret"


class RawAmiClient:
    def __init__(self) -> None:
        self.banner = ""
        self.blocks: list[Block] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.closed = False

    async def connect(self, host: str, port: int) -> None:
        # A large line limit: the fault tests send 70 KB header values on purpose.
        self._reader, self._writer = await asyncio.open_connection(host, port, limit=1 << 20)
        self.banner = (await self._reader.readline()).decode().rstrip("\r\n")
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        cur: Block = []
        try:
            while True:
                raw = await self._reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
                if not line:
                    if cur:
                        self.blocks.append(cur)
                        cur = []
                        self._changed.set()
                    continue
                k, _, v = line.partition(":")
                cur.append((k, v[1:] if v.startswith(" ") else v))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self.closed = True
            self._changed.set()

    def send(self, *headers: tuple[str, str]) -> None:
        assert self._writer is not None
        self._writer.write(("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode())

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)

    async def wait_for(
        self, pred: Callable[[Block], bool], *, timeout: float = 5.0, start: int = 0
    ) -> Block:
        """The first block (from index ``start``) matching ``pred``, waiting if needed."""
        deadline = asyncio.get_running_loop().time() + timeout
        i = start
        while True:
            while i < len(self.blocks):
                if pred(self.blocks[i]):
                    return self.blocks[i]
                i += 1
            if self.closed:
                raise ConnectionError("connection closed while waiting")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError("no matching AMI block")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def response(self, action_id: str, *, timeout: float = 5.0) -> Block:
        return await self.wait_for(
            lambda b: bool(b) and b[0][0] == "Response" and field(b, "ActionID") == action_id,
            timeout=timeout,
        )

    async def event(self, name: str, *, timeout: float = 5.0, **match: str) -> Block:
        def pred(b: Block) -> bool:
            return field(b, "Event") == name and all(field(b, k) == v for k, v in match.items())

        return await self.wait_for(pred, timeout=timeout)

    async def login(
        self, username: str = "dialer", secret: str = RAW_SECRET, events: str = "on"
    ) -> Block:
        self.send(
            ("Action", "Login"),
            ("ActionID", "login"),
            ("Username", username),
            ("Secret", secret),
            ("Events", events),
        )
        return await self.response("login")

    def events(self, name: str | None = None) -> list[Block]:
        return [
            b
            for b in self.blocks
            if field(b, "Event") and (name is None or field(b, "Event") == name)
        ]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
