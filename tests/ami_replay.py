"""Replaying a fixture transcript through the AMI parser and translator (tests only).

The engine's orders found in the transcript (Originate, Hangup, Redirect) are told to
the translator as the adapter would; every received block goes through ``AmiParser``
as wire bytes, and the translator's output is collected with the block's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dialer.ids import AgentId, CallId
from telephony.ami_codec import AmiParser
from telephony.ami_translate import AmiTranslator, Out
from telephony.events import AmdVerdict
from tests.ami_fixtures import blocks, wire_bytes


@dataclass
class Replay:
    translator: AmiTranslator
    events: list[Out] = field(default_factory=list)
    calls: list[CallId] = field(default_factory=list)
    messages: int = 0


def replay(
    name: str, *, chunk: int | None = None, engine: dict[str, AmdVerdict] | None = None
) -> Replay:
    """``engine``: the verdict our AudioSocket detector gives a call (by call id), told to
    the translator when the dialplan reports the stream done (``AudioSocketDone``): in
    those captures the verdict reached the engine from the server, not over AMI."""
    tr = AmiTranslator()
    rep = Replay(tr)
    parser = AmiParser()
    names: dict[str, str] = {}  # channel name -> uid
    for block in blocks(name):
        if block.sent:
            _order(tr, rep, dict(block.headers()), block.headers(), names)
            continue
        data = wire_bytes(block)
        pieces = (
            [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
        )
        for piece in pieces:
            for msg in parser.feed(piece):
                rep.messages += 1
                if msg.get("Event") == "Newchannel":
                    names[msg.get("Channel", "")] = msg.get("Uniqueid", "")
                rep.events.extend(tr.feed(msg, block.t))
                if engine and msg.get("UserEvent") == "AudioSocketDone":
                    verdict = engine.get(msg.get("CallID", ""))
                    if verdict is not None:
                        rep.events.extend(
                            tr.engine_verdict(CallId(msg["CallID"]), verdict, block.t)
                        )
    return rep


def _call_of(tr: AmiTranslator, channel: str, names: dict[str, str]) -> CallId | None:
    uid = names.get(channel, channel)
    for call, known in tr.open_calls().items():
        if known == uid:
            return call
    return None


def _order(
    tr: AmiTranslator,
    rep: Replay,
    h: dict[str, str],
    pairs: list[tuple[str, str]],
    names: dict[str, str],
) -> None:
    action = h.get("Action")
    if action == "Originate":
        variables = dict(v.split("=", 1) for k, v in pairs if k == "Variable")
        call = variables.get("CALLID")
        if call is None:
            return  # an agent login, not a customer call
        tr.placed(CallId(call), action_id=h["ActionID"], unique_id=h.get("ChannelId"))
        rep.calls.append(CallId(call))
    elif action == "Hangup":
        call = _call_of(tr, h.get("Channel", ""), names)
        if call is not None:
            tr.hangup_ordered(call)
    elif action == "Redirect":
        call = _call_of(tr, h.get("Channel", ""), names)
        if call is not None and h.get("Context") in ("dialer-conf", "dialer-route"):
            tr.bridge_ordered(call, AgentId(h.get("Exten", "")))
