"""The engine's HTTP JSON API for agent desktops and CRMs (aiohttp).

Every request carries ``Authorization: Bearer <token>``; the token names the agent, so
an agent can only act as itself: there is no agent id in any URL. Missing or unknown
token: 401. A call that is not the agent's own (another agent's, or one already closed):
403. A state change the agent state machine refuses (``agents.state``): 409. Bad JSON or
a bad disposition: 400 naming the field. Tokens are compared by hash, never logged.

Endpoints (all JSON):

- ``GET  /v1/me``: the agent's state, time in state, pause reason and current call.
- ``POST /v1/me/login`` / ``/v1/me/ready`` (log in, or resume from a pause) /
  ``/v1/me/pause`` ``{"reason": "..."}`` / ``/v1/me/logout``.
- ``POST /v1/calls/{call}/disposition``: ``{"code": ..., "note", "amount", "currency",
  "due", "callback_at", "callback_mine", "ready": true}`` for the agent's current call
  (on the call or in wrap-up); ``ready`` (default true) ends the wrap-up.
- ``GET  /v1/me/events``: server-sent events: ``state`` on every transition of this
  agent, ``screen-pop`` when a call is bridged to the agent (call id, lead card: name,
  account, debt, days past due, last promises). Nothing else is ever sent to an agent.

The engine side is behind small protocols, so one runner or a host of several campaigns
can serve it (``AgentDesk``), and the store provides tokens, lead cards and the
disposition sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from aiohttp import web

from agents.state import Agent
from dialer.call_notices import CallConnected, CallNotice, CallRouted
from dialer.disposition import (
    Disposition,
    DispositionError,
    parse_disposition,
    validate_custom_codes,
)
from dialer.errors import DialerError, IllegalTransition
from dialer.http_site import HttpSite
from dialer.ids import AgentId, CallId, LeadId
from dialer.leads import DialTarget

log = logging.getLogger(__name__)

AGENT = web.RequestKey("agent", str)  # the authenticated agent of a request
SSE_QUEUE = 256  # events buffered per desktop connection before it is cut as too slow
SSE_KEEPALIVE = 15.0  # seconds between comment lines, so proxies keep the stream open


class AgentDesk(Protocol):
    """What the API needs from the engine: a ``CampaignRunner`` or a campaign host."""

    def login(self, agent_id: AgentId) -> None: ...
    def logout(self, agent_id: AgentId) -> None: ...
    def pause(self, agent_id: AgentId, reason: str) -> None: ...
    def resume(self, agent_id: AgentId) -> None: ...
    def finish_wrapup(self, agent_id: AgentId) -> None: ...
    @property
    def agents(self) -> Mapping[AgentId, Agent]: ...
    def add_agent_listener(self, listener: Callable[[Agent], None]) -> None: ...
    def add_call_listener(self, listener: Callable[[CallNotice], None]) -> None: ...


class AgentDirectory(Protocol):
    async def authenticate(self, token: str) -> AgentId | None:
        """The agent a bearer token belongs to, or None."""
        ...


class LeadCards(Protocol):
    async def card(self, lead: LeadId) -> Mapping[str, object]:
        """What an agent sees about a debtor: JSON-ready values."""
        ...


class DispositionSink(Protocol):
    async def record(
        self, agent: AgentId, call: CallId, target: DialTarget, disposition: Disposition
    ) -> None:
        """Persist a disposition (and the promise, callback or DNC entry it implies)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """The agent API's address and the campaign's disposition vocabulary."""

    enabled: bool = True
    host: str = "127.0.0.1"  # loopback unless the admin says otherwise
    port: int = 8081
    custom_codes: frozenset[str] = frozenset()  # extra disposition codes (a-z, 0-9, _)
    default_currency: str | None = None  # ISO 4217, for promises that do not name one

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port: must be 0..65535 (0: any free port)")
        if not self.host:
            raise ValueError("host: must name an address, e.g. 127.0.0.1")
        try:
            validate_custom_codes(self.custom_codes)
        except ValueError as exc:
            raise ValueError(f"custom_codes: {exc}") from None
        if self.default_currency is not None and not re.fullmatch(
            r"[A-Z]{3}", self.default_currency
        ):
            raise ValueError("default_currency: an ISO 4217 code such as MXN")


Clock = Callable[[], datetime]


class AgentApi:
    """Builds the aiohttp application; ``start``/``close`` serve it on a TCP port."""

    def __init__(
        self,
        *,
        desk: AgentDesk,
        directory: AgentDirectory,
        cards: LeadCards,
        dispositions: DispositionSink,
        now: Clock,
        settings: ApiSettings | None = None,
    ) -> None:
        self._desk = desk
        self._directory = directory
        self._cards = cards
        self._sink = dispositions
        self._now = now
        self.settings = settings or ApiSettings()
        self._streams: dict[AgentId, set[asyncio.Queue[tuple[str, str] | None]]] = defaultdict(set)
        self._calls: dict[AgentId, tuple[CallId, DialTarget]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._site: HttpSite | None = None
        self.port: int | None = None
        desk.add_agent_listener(self._on_agent)
        desk.add_call_listener(self._on_call)
        self.app = web.Application(middlewares=[self._auth])
        self.app.add_routes(
            [
                web.get("/v1/me", self._me),
                web.post("/v1/me/login", self._command(self._login)),
                web.post("/v1/me/ready", self._command(self._ready)),
                web.post("/v1/me/pause", self._command(self._pause)),
                web.post("/v1/me/logout", self._command(self._logout)),
                web.post("/v1/calls/{call}/disposition", self._disposition),
                web.get("/v1/me/events", self._events),
            ]
        )

    # ------------------------------------------------------------------ serving

    async def start(self) -> int:
        """Listen on ``settings.host:port``; returns the bound port (port 0: any free)."""
        self._site = HttpSite(self.app, host=self.settings.host, port=self.settings.port)
        self.port = await self._site.start()
        return self.port

    async def close(self) -> None:
        for queues in self._streams.values():
            for q in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        if self._site is not None:
            await self._site.close()
            self._site = None

    # ------------------------------------------------------------------ auth

    @web.middleware
    async def _auth(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "missing bearer token", auth=True)
        agent = await self._directory.authenticate(token.strip())
        if agent is None:
            return _error(401, "unknown or revoked token", auth=True)
        request[AGENT] = agent
        return await handler(request)

    # ------------------------------------------------------------------ handlers

    async def _me(self, request: web.Request) -> web.Response:
        agent_id = AgentId(request[AGENT])
        return web.json_response(self._agent_json(agent_id))

    def _agent_json(self, agent_id: AgentId) -> dict[str, object]:
        agent = self._desk.agents.get(agent_id)
        if agent is None:
            return {"agent": agent_id, "state": "offline", "call": None}
        return {
            "agent": agent_id,
            "state": agent.state.value,
            "since": agent.since,
            "pause_reason": agent.pause_reason,
            "call": agent.call,
        }

    def _command(
        self, action: Callable[[AgentId, Mapping[str, object]], None]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            agent_id = AgentId(request[AGENT])
            body = await _json_body(request, optional=True)
            if isinstance(body, web.Response):
                return body
            try:
                action(agent_id, body)
            except IllegalTransition as exc:
                return _error(409, str(exc))
            except (DialerError, ValueError) as exc:
                return _error(400, str(exc))
            return web.json_response(self._agent_json(agent_id))

        return handle

    def _login(self, agent: AgentId, body: Mapping[str, object]) -> None:
        self._desk.login(agent)

    def _ready(self, agent: AgentId, body: Mapping[str, object]) -> None:
        current = self._desk.agents.get(agent)
        if current is None or current.state.value == "offline":
            self._desk.login(agent)
        else:
            self._desk.resume(agent)

    def _pause(self, agent: AgentId, body: Mapping[str, object]) -> None:
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 100:
            raise ValueError('reason: required, a short text (e.g. "lunch")')
        self._desk.pause(agent, reason.strip())

    def _logout(self, agent: AgentId, body: Mapping[str, object]) -> None:
        self._desk.logout(agent)

    async def _disposition(self, request: web.Request) -> web.Response:
        agent_id = AgentId(request[AGENT])
        call = CallId(request.match_info["call"])
        current = self._desk.agents.get(agent_id)
        mine = self._calls.get(agent_id)
        if (
            current is None
            or current.call != call
            or mine is None
            or mine[0] != call
            or current.state.value not in ("on_call", "wrapup")
        ):
            return _error(403, f"call {call} is not this agent's open call")
        body = await _json_body(request, optional=False)
        if isinstance(body, web.Response):
            return body
        ready = body.pop("ready", True)
        if not isinstance(ready, bool):
            return _error(400, "ready: true or false")
        now = self._now()
        try:
            disposition = parse_disposition(
                body,
                today=now.date(),
                now=now,
                custom_codes=self.settings.custom_codes,
                default_currency=self.settings.default_currency,
            )
        except DispositionError as exc:
            return _error(400, str(exc))
        try:
            await self._sink.record(agent_id, call, mine[1], disposition)
        except DialerError as exc:  # a DispositionError naming its field, or the store's
            return _error(400, str(exc))
        if ready and current.state.value == "wrapup":
            try:
                self._desk.finish_wrapup(agent_id)
            except IllegalTransition as exc:  # pragma: no cover - raced by another request
                return _error(409, str(exc))
        return web.json_response({"recorded": disposition.code, **self._agent_json(agent_id)})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        agent_id = AgentId(request[AGENT])
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue(SSE_QUEUE)
        self._streams[agent_id].add(queue)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            await response.write(_sse("state", json.dumps(self._agent_json(agent_id))))
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is None:
                    break
                await response.write(_sse(*item))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._streams[agent_id].discard(queue)
        return response

    # ------------------------------------------------------------------ engine feed

    def _push(self, agent: AgentId, event: str, data: Mapping[str, Any]) -> None:
        text = json.dumps(data, default=_json_default)
        for queue in list(self._streams.get(agent, ())):
            try:
                queue.put_nowait((event, text))
            except asyncio.QueueFull:
                # A desktop that does not read is cut, not allowed to grow our memory.
                log.warning("agent %s event stream too slow; closing it", agent)
                self._streams[agent].discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    def _on_agent(self, agent: Agent) -> None:
        if agent.id in self._streams:
            self._push(agent.id, "state", self._agent_json(agent.id))

    def _on_call(self, notice: CallNotice) -> None:
        if isinstance(notice, CallRouted):
            self._calls[notice.agent] = (notice.call, notice.target)
        elif isinstance(notice, CallConnected) and notice.agent in self._streams:
            task = asyncio.ensure_future(self._screen_pop(notice))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _screen_pop(self, notice: CallConnected) -> None:
        try:
            card = await self._cards.card(notice.target.lead)
        except Exception:
            log.exception("lead card for %s failed; screen-pop without it", notice.target.lead)
            card = {"lead": notice.target.lead}
        self._push(
            notice.agent,
            "screen-pop",
            {
                "call": notice.call,
                "campaign": notice.campaign,
                "lead": notice.target.lead,
                "number": notice.target.number,
                "card": dict(card),
            },
        )


def _sse(event: str, data: str) -> bytes:
    # Server-sent events (WHATWG HTML, 9.2): "event:" then "data:" lines, a blank line ends it.
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _error(status: int, message: str, *, auth: bool = False) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="dialer"'} if auth else None
    return web.json_response({"error": message}, status=status, headers=headers)


async def _json_body(request: web.Request, *, optional: bool) -> dict[str, object] | web.Response:
    if not request.can_read_body:
        return {} if optional else _error(400, "a JSON object body is required")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object")
    return body


def token_hash(token: str) -> str:
    """The stored form of an agent token (SHA-256 hex); tokens are random, so no salt."""
    return hashlib.sha256(token.encode()).hexdigest()


class StaticDirectory:
    """Tokens held in memory as hashes (tests, the simulator, single-process demos)."""

    def __init__(self, tokens: Mapping[str, AgentId] | None = None) -> None:
        self._by_hash = {token_hash(t): a for t, a in (tokens or {}).items()}

    def add(self, token: str, agent: AgentId) -> None:
        self._by_hash[token_hash(token)] = agent

    async def authenticate(self, token: str) -> AgentId | None:
        return self._by_hash.get(token_hash(token))
