"""One telephony backend shared by several campaigns.

A PBX connection (one AMI session, one simulated PBX) emits one stream of call events
for every campaign; each ``CampaignRunner`` consumes its own. ``TelephonyMux`` pumps the
backend's stream once and hands every event to the campaign whose call-id prefix the
call carries: a campaign's runner names its calls ``<prefix><n>`` and every prefix ends
with ``.``, so the route is the call id up to and including its last ``.``.

Orders (originate, bridge, ...) pass straight through: the backend does not need to
know about campaigns. An event for a call no campaign claims (a prefix left over from a
crashed run) is logged and dropped: no runner could apply it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from dialer.ids import AgentId, CallId
from telephony.events import CallEvent
from telephony.port import Originate, Telephony
from telephony.stream import EventStream

log = logging.getLogger("dialer.telephony_mux")

SEPARATOR = "."


def route_of(call: CallId) -> str:
    """The prefix a call id was built from (up to and including its last ``.``)."""
    cut = call.rfind(SEPARATOR)
    return call[: cut + 1] if cut >= 0 else ""


class CampaignPort:
    """The telephony port one runner sees: the shared backend, its own event stream."""

    def __init__(self, backend: Telephony, prefix: str) -> None:
        self._backend = backend
        self.prefix = prefix
        self.stream: EventStream[CallEvent] = EventStream()

    async def originate(self, request: Originate) -> None:
        await self._backend.originate(request)

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        await self._backend.bridge(call, agent)

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        await self._backend.play_and_hangup(call, prompt)

    async def hangup(self, call: CallId) -> None:
        await self._backend.hangup(call)

    def events(self) -> AsyncIterator[CallEvent]:
        return self.stream

    def close(self) -> None:
        """End the runner's event stream (its consumer returns)."""
        self.stream.close()


class TelephonyMux:
    def __init__(self, backend: Telephony) -> None:
        self._backend = backend
        self._ports: dict[str, CampaignPort] = {}
        self.unrouted = 0  # events for calls no campaign claims

    def port(self, prefix: str) -> CampaignPort:
        """A port for the campaign whose call ids start with ``prefix`` (ends with ``.``)."""
        if not prefix.endswith(SEPARATOR) or SEPARATOR in prefix[:-1]:
            raise ValueError(f"a call-id prefix must end with its only {SEPARATOR!r}: {prefix!r}")
        if prefix in self._ports:
            raise ValueError(f"call-id prefix {prefix!r} is already in use")
        port = self._ports[prefix] = CampaignPort(self._backend, prefix)
        return port

    def release(self, prefix: str) -> None:
        port = self._ports.pop(prefix, None)
        if port is not None:
            port.close()

    async def pump(self) -> None:
        """Route the backend's events until its stream ends (run it as a task)."""
        async for event in self._backend.events():
            port = self._ports.get(route_of(event.call))
            if port is None:
                self.unrouted += 1
                log.warning("event for a call no running campaign owns: %s", event.call)
                continue
            port.stream.put(event)
