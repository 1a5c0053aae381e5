"""The AMI actions the emulator answers, with Asterisk's response texts.

Response texts are the captured ones where the fixtures have them (``Originate
successfully queued``, ``Redirect successful``, ``Channel Hungup``, ``Authentication
accepted``, ``Thanks for all the fish.``, ``Confbridge user list will follow``) and
otherwise those of Asterisk's main/manager.c (``No such channel``, ``Authentication
Required``, ``Missing action in request``, ``Invalid/unknown command``).

An action's response is written before any event it causes, as Asterisk does for the
async Originate, Redirect and Hangup in the captures.
"""

from __future__ import annotations

import math
import random
import re
from typing import TYPE_CHECKING

from simulator import ami_events as ev
from simulator.ami_events import Channel
from simulator.ami_protocol import Message, parse_event_mask, parse_variables, response

if TYPE_CHECKING:
    from simulator.ami_emulator import AmiEmulator, Session

_NUMBER = re.compile(r"\+?([0-9*#]+)$")


def destination_number(dial: str) -> str:
    """The dialled number in a dial string: ``PJSIP/5215512345678@trunk`` ->
    ``5215512345678``; ``Local/human_es@callee-sim`` -> ``human_es``."""
    _, _, resource = dial.partition("/")
    target = resource.split("@", 1)[0].rsplit("/", 1)[-1]
    if target.startswith("sip:"):
        target = target[4:]
    m = _NUMBER.match(target)
    return m.group(1) if m else target


def handle(emu: AmiEmulator, s: Session, msg: Message) -> None:
    action = msg.action.lower()
    aid = msg.get("ActionID") if msg.has("ActionID") else None
    if not action:
        s.write(response(aid, "Error", ("Message", "Missing action in request")))
        return
    if not s.authed and action not in ("login", "challenge", "logoff"):
        s.write(response(aid, "Error", ("Message", "Authentication Required")))
        return
    fn = _ACTIONS.get(action)
    if fn is None:
        text = (
            f"Invalid/unknown command: {msg.action}. "
            "Use Action: ListCommands to show available commands."
        )
        s.write(response(aid, "Error", ("Message", text)))
        return
    fn(emu, s, msg, aid)


def _login(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    emu.login(s, msg, aid)


def _challenge(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    if msg.get("AuthType").lower() != "md5":
        s.write(response(aid, "Error", ("Message", "Must specify AuthType")))
        return
    s.challenge = str(random.SystemRandom().randrange(100_000_000, 1_000_000_000))
    s.write(response(aid, "Success", ("Challenge", s.challenge)))


def _logoff(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    s.write(response(aid, "Goodbye", ("Message", "Thanks for all the fish.")))
    s.close()


def _ping(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    s.write(response(aid, "Success", ("Ping", "Pong"), ("Timestamp", f"{emu.clock():.6f}")))


def _events(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    s.mask = parse_event_mask(msg.get("EventMask"))
    s.write(response(aid, "Success", ("Events", "On" if s.mask else "Off")))


def _originate(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    dial = msg.get("Channel").strip()
    if not dial or "/" not in dial:
        s.write(response(aid, "Error", ("Message", "Channel not specified")))
        return
    raw_timeout = msg.get("Timeout", "30000").strip() or "30000"
    try:
        timeout_ms = float(raw_timeout)
    except ValueError:
        timeout_ms = math.nan
    if not (math.isfinite(timeout_ms) and timeout_ms > 0):
        s.write(response(aid, "Error", ("Message", "Invalid timeout")))
        return
    pbx = emu.pbx
    channel_id, other_id = msg.get("ChannelId").strip(), msg.get("OtherChannelId").strip()
    for uid in (channel_id, other_id):
        if uid and uid in pbx.by_uid:
            s.write(response(aid, "Error", ("Message", "Uniqueid already in use")))
            return
    application = msg.get("Application").strip()
    context = msg.get("Context").strip() or "default"
    exten = msg.get("Exten").strip() or "s"
    variables = list(parse_variables(msg.get_all("Variable")))
    script = emu.choose_script(channel_id, aid or "", destination_number(dial))
    emu.originates += 1
    # Async or not, the emulator queues the call: the captures only use Async: true.
    s.write(response(aid, "Success", ("Message", "Originate successfully queued")))
    pbx.originate(
        dial=dial,
        script=script,
        context=context,
        exten=exten,
        application=application,
        data=msg.get("Data"),
        variables=variables,
        caller_id=msg.get("CallerID"),
        timeout=timeout_ms / 1000.0,
        action_id=aid,
        channel_id=channel_id,
        other_channel_id=other_id,
    )


def _find(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> Channel | None:
    name = msg.get("Channel").strip()
    if not name:
        s.write(response(aid, "Error", ("Message", "No channel specified")))
        return None
    ch = emu.pbx.find(name)
    if ch is None:
        s.write(response(aid, "Error", ("Message", "No such channel")))
    return ch


def _redirect(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    ch = _find(emu, s, msg, aid)
    if ch is None:
        return
    context, exten = msg.get("Context").strip(), msg.get("Exten").strip()
    if not context or not exten:
        s.write(response(aid, "Error", ("Message", "Context and Exten must be specified")))
        return
    call = emu.pbx.call_of.get(ch.name)
    if call is None or ch is not call.one or not call.answered:
        s.write(response(aid, "Error", ("Message", "Redirect failed")))
        return
    s.write(response(aid, "Success", ("Message", "Redirect successful")))
    emu.pbx.redirect(call, context, exten)


def _bridge(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    names = msg.get("Channel1").strip(), msg.get("Channel2").strip()
    chans = [emu.pbx.find(n) for n in names]
    for i, (name, ch) in enumerate(zip(names, chans, strict=True), start=1):
        if ch is None:
            s.write(response(aid, "Error", ("Message", f"Channel{i} does not exist: {name}")))
            return
    ch1, ch2 = chans
    assert ch1 is not None and ch2 is not None
    error = emu.pbx.bridge_action(ch1, ch2)
    # Bridging two calls outside a conference is not emulated (the engine never does
    # it; issue 4 routes through conferences): say so rather than pretend.
    s.write(response(aid, "Error", ("Message", error or "Bridge is not emulated")))


def _hangup(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    ch = _find(emu, s, msg, aid)
    if ch is None:
        return
    try:
        cause = int(msg.get("Cause", "16") or "16")
    except ValueError:
        cause = 16
    s.write(response(aid, "Success", ("Message", "Channel Hungup")))
    emu.pbx.hangup_channel(ch, cause)


def _duration(ch: Channel, now: float, scale: float) -> int:
    return int((now - ch.created) / scale)


def _bridge_id(ch: Channel) -> str:
    return ch.bridge.uniqueid if ch.bridge is not None else ""


def _core_show_channels(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    a = f"ActionID: {aid}\r\n" if aid is not None else ""
    s.write(response(aid, "Success", ("EventList", "start"), ("Message", "Channels will follow")))
    now = emu.loop.time()
    chans = emu.pbx.channels()
    for ch in chans:
        secs = _duration(ch, now, emu.time_scale)
        dur = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
        s.write(
            f"Event: CoreShowChannel\r\n{a}{ch.headers()}BridgeId: {_bridge_id(ch)}\r\n"
            f"Application: {ch.app}\r\nApplicationData: {ch.app_data}\r\n"
            f"Duration: {dur}\r\n\r\n"
        )
    s.write(
        f"Event: CoreShowChannelsComplete\r\n{a}EventList: Complete\r\n"
        f"ListItems: {len(chans)}\r\n\r\n"
    )


def _status(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    if msg.get("Channel").strip():
        one = _find(emu, s, msg, aid)
        if one is None:
            return
        chans = [one]
    else:
        chans = emu.pbx.channels()
    a = f"ActionID: {aid}\r\n" if aid is not None else ""
    s.write(
        response(aid, "Success", ("EventList", "start"), ("Message", "Channel status will follow"))
    )
    now = emu.loop.time()
    for ch in chans:
        s.write(
            "Event: Status\r\nPrivilege: Call\r\n"
            + (
                f"{a}{ch.headers()}Type: {ch.name.split('/', 1)[0]}\r\nDNID: \r\n"
                f"EffectiveConnectedLineNum: {ch.conn_num}\r\n"
                f"EffectiveConnectedLineName: {ch.conn_name}\r\nTimeToHangup: 0\r\n"
                f"BridgeID: {_bridge_id(ch)}\r\nApplication: {ch.app}\r\nData: {ch.app_data}\r\n"
                "Nativeformats: (slin)\r\nReadformat: slin\r\nReadtrans: \r\n"
                "Writeformat: slin\r\nWritetrans: \r\nCallgroup: 0\r\nPickupgroup: 0\r\n"
                f"Seconds: {_duration(ch, now, emu.time_scale)}\r\n\r\n"
            )
        )
    n = len(chans)
    s.write(
        f"Event: StatusComplete\r\n{a}EventList: Complete\r\nListItems: {n}\r\nItems: {n}\r\n\r\n"
    )


def _getvar(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    name = msg.get("Variable").strip()
    if not name:
        s.write(response(aid, "Error", ("Message", "No variable specified")))
        return
    value = ""
    if msg.get("Channel").strip():
        ch = _find(emu, s, msg, aid)
        if ch is None:
            return
        value = ch.variables.get(name, "")
    s.write(response(aid, "Success", ("Variable", name), ("Value", value)))


def _setvar(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    name = msg.get("Variable").strip()
    if not name:
        s.write(response(aid, "Error", ("Message", "No variable specified")))
        return
    ch: Channel | None = None
    if msg.get("Channel").strip():
        ch = _find(emu, s, msg, aid)
        if ch is None:
            return
    s.write(response(aid, "Success", ("Message", "Variable Set")))
    if ch is not None:
        emu.pbx.varset(ch, name, msg.get("Value"))


def _user_event(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    name = msg.get("UserEvent").strip()
    if not name:
        s.write(response(aid, "Error", ("Message", "UserEvent needs a UserEvent header")))
        return
    skip = {"action", "actionid", "userevent"}
    pairs = [(k, v) for k, v in msg.headers if k.lower() not in skip]
    s.write(response(aid, "Success"))
    if emu.pbx.wants(ev.USER):
        emu.pbx.emit(ev.USER, ev.user_event(None, name, pairs))


def _confbridge_list(emu: AmiEmulator, s: Session, msg: Message, aid: str | None) -> None:
    conf = msg.get("Conference").strip()
    b = emu.pbx.conferences.get(conf)
    if b is None:
        s.write(response(aid, "Error", ("Message", "No active conferences.")))
        return
    a = f"ActionID: {aid}\r\n" if aid is not None else ""
    s.write(
        response(
            aid, "Success", ("EventList", "start"), ("Message", "Confbridge user list will follow")
        )
    )
    now = emu.loop.time()
    flags = (
        "Admin: No\r\nMarkedUser: No\r\nWaitMarked: No\r\nEndMarked: No\r\nEndMarkedAny: No\r\n"
        "Waiting: No\r\nMuted: No\r\nTalking: No\r\n"
    )
    for ch in b.members:
        secs = _duration(ch, now, emu.time_scale)
        body = f"{a}Conference: {conf}\r\n{flags}AnsweredTime: {secs}\r\n{ch.headers()}"
        # List items are replies to one session: no Privilege header (as captured).
        s.write(f"Event: ConfbridgeList\r\n{body}\r\n")
    s.write(
        f"Event: ConfbridgeListComplete\r\n{a}EventList: Complete\r\n"
        f"ListItems: {len(b.members)}\r\n\r\n"
    )


_ACTIONS = {
    "login": _login,
    "challenge": _challenge,
    "logoff": _logoff,
    "ping": _ping,
    "events": _events,
    "originate": _originate,
    "redirect": _redirect,
    "hangup": _hangup,
    "bridge": _bridge,
    "coreshowchannels": _core_show_channels,
    "status": _status,
    "getvar": _getvar,
    "setvar": _setvar,
    "userevent": _user_event,
    "confbridgelist": _confbridge_list,
}
