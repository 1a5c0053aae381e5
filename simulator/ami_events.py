"""Channels, bridges and the text of the AMI events the emulator sends.

Every event here is written with the headers, in the order, that Asterisk 22.10.1 wrote
in ``shared/fixtures/asterisk-ami/transcripts`` (for example ``Newstate`` = ``Event``,
``Privilege``, the 14 standard channel headers; ``DialBegin`` of the originate leg has
no ``Channel*`` headers, only ``Dest*`` ones and ``DialString``). The README of the
fixtures names each header's meaning.

A channel's standard header block is cached and rebuilt only when its state, caller id
or dialplan location changes: a call emits 15-25 events and most share that block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.ami_protocol import CAUSE_TEXT, STATE_DESC

UNKNOWN = "<unknown>"

# Event classes (Privilege's first token), as the captures label them.
CALL, DIALPLAN, USER, SYSTEM, SECURITY, AGENT = (
    "call",
    "dialplan",
    "user",
    "system",
    "security",
    "agent",
)


class Channel:
    """One Asterisk channel (a ``Local/...;1`` or ``;2`` half, or a trunk channel)."""

    __slots__ = (
        "_hdr",
        "app",
        "app_data",
        "bridge",
        "cid_name",
        "cid_num",
        "conn_name",
        "conn_num",
        "context",
        "created",
        "exten",
        "language",
        "linkedid",
        "name",
        "priority",
        "state",
        "uniqueid",
        "variables",
    )

    def __init__(
        self,
        name: str,
        uniqueid: str,
        linkedid: str,
        *,
        state: int,
        context: str,
        exten: str,
        created: float,
    ) -> None:
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.state = state
        self.cid_num = UNKNOWN
        self.cid_name = UNKNOWN
        self.conn_num = UNKNOWN
        self.conn_name = UNKNOWN
        self.context = context
        self.exten = exten
        self.priority = 1
        self.language = "en"
        self.created = created  # loop time, seconds
        self.app = "AppDial2"
        self.app_data = "(Outgoing Line)"
        self.bridge: Bridge | None = None
        self.variables: dict[str, str] = {}
        self._hdr: str | None = None

    def set_state(self, state: int) -> None:
        self.state = state
        self._hdr = None

    def goto(self, context: str, exten: str, priority: int = 1) -> None:
        self.context, self.exten, self.priority = context, exten, priority
        self._hdr = None

    def set_language(self, language: str) -> None:
        self.language = language
        self._hdr = None

    def set_callerid(self, num: str, name: str, conn_num: str, conn_name: str) -> None:
        self.cid_num, self.cid_name, self.conn_num, self.conn_name = num, name, conn_num, conn_name
        self._hdr = None

    def headers(self) -> str:
        """The standard channel header lines (CRLF-terminated), cached."""
        if self._hdr is None:
            self._hdr = self.prefixed("")
        return self._hdr

    def prefixed(self, p: str) -> str:
        """The standard block with every key prefixed (``Dest``, ``LocalOne``...)."""
        return (
            f"{p}Channel: {self.name}\r\n{p}ChannelState: {self.state}\r\n"
            f"{p}ChannelStateDesc: {STATE_DESC.get(self.state, 'Unknown')}\r\n"
            f"{p}CallerIDNum: {self.cid_num}\r\n{p}CallerIDName: {self.cid_name}\r\n"
            f"{p}ConnectedLineNum: {self.conn_num}\r\n{p}ConnectedLineName: {self.conn_name}\r\n"
            f"{p}Language: {self.language}\r\n{p}AccountCode: \r\n{p}Context: {self.context}\r\n"
            f"{p}Exten: {self.exten}\r\n{p}Priority: {self.priority}\r\n"
            f"{p}Uniqueid: {self.uniqueid}\r\n{p}Linkedid: {self.linkedid}\r\n"
        )


@dataclass(slots=True)
class Bridge:
    """A bridge: ``basic``/``simple_bridge`` for Dial, ``base``/``softmix`` for ConfBridge.

    ``hidden`` counts members without channel events: ConfBridge's announcer channel
    ``CBAnn/...;2`` is in ``BridgeNumChannels`` but never announced (fixtures README,
    "Pitfalls: agent-conference routing", 2).
    """

    uniqueid: str
    type: str
    technology: str
    creator: str = UNKNOWN
    name: str = UNKNOWN
    members: list[Channel] = field(default_factory=list)
    hidden: int = 0

    @property
    def count(self) -> int:
        return len(self.members) + self.hidden

    def headers(self, count: int | None = None) -> str:
        n = self.count if count is None else count
        return (
            f"BridgeUniqueid: {self.uniqueid}\r\nBridgeType: {self.type}\r\n"
            f"BridgeTechnology: {self.technology}\r\nBridgeCreator: {self.creator}\r\n"
            f"BridgeName: {self.name}\r\nBridgeNumChannels: {n}\r\n"
            "BridgeVideoSourceMode: none\r\n"
        )


def event(name: str, cls: str, body: str) -> str:
    """An event block: ``Event``, ``Privilege: <cls>,all``, then ``body`` lines."""
    return f"Event: {name}\r\nPrivilege: {cls},all\r\n{body}\r\n"


def newchannel(ch: Channel) -> str:
    return event("Newchannel", CALL, ch.headers())


def newstate(ch: Channel) -> str:
    return event("Newstate", CALL, ch.headers())


def varset(ch: Channel, name: str, value: str) -> str:
    return event("VarSet", DIALPLAN, f"{ch.headers()}Variable: {name}\r\nValue: {value}\r\n")


def newexten(ch: Channel, app: str, data: str) -> str:
    return event(
        "Newexten",
        DIALPLAN,
        f"{ch.headers()}Extension: {ch.exten}\r\nApplication: {app}\r\nAppData: {data}\r\n",
    )


def dial_begin(caller: Channel | None, dest: Channel, dial_string: str) -> str:
    head = caller.headers() if caller is not None else ""
    return event("DialBegin", CALL, f"{head}{dest.prefixed('Dest')}DialString: {dial_string}\r\n")


def dial_state(caller: Channel | None, dest: Channel, status: str) -> str:
    head = caller.headers() if caller is not None else ""
    return event("DialState", CALL, f"{head}{dest.prefixed('Dest')}DialStatus: {status}\r\n")


def dial_end(caller: Channel | None, dest: Channel, status: str) -> str:
    head = caller.headers() if caller is not None else ""
    return event("DialEnd", CALL, f"{head}{dest.prefixed('Dest')}DialStatus: {status}\r\n")


def hangup_request(ch: Channel, cause: int, *, soft: bool) -> str:
    name = "SoftHangupRequest" if soft else "HangupRequest"
    return event(name, CALL, f"{ch.headers()}Cause: {cause}\r\n")


def hangup(ch: Channel, cause: int) -> str:
    text = CAUSE_TEXT.get(cause, "Unknown")
    return event("Hangup", CALL, f"{ch.headers()}Cause: {cause}\r\nCause-txt: {text}\r\n")


def user_event(ch: Channel | None, name: str, pairs: list[tuple[str, str]]) -> str:
    head = ch.headers() if ch is not None else ""
    extra = "".join(f"{k}: {v}\r\n" for k, v in pairs)
    return event("UserEvent", USER, f"{head}UserEvent: {name}\r\n{extra}")


def bridge_event(name: str, b: Bridge, ch: Channel | None = None, count: int | None = None) -> str:
    """BridgeCreate/Enter/Leave/Destroy; ``count`` overrides ``BridgeNumChannels``."""
    tail = ch.headers() if ch is not None else ""
    return event(name, CALL, f"{b.headers(count)}{tail}")


def confbridge_event(
    name: str, conf: str, b: Bridge, ch: Channel | None, count: int, *, tail: str = ""
) -> str:
    """ConfbridgeStart/Join/Leave/End: ``Conference`` first, then the bridge, channel, tail."""
    chan = ch.headers() if ch is not None else ""
    return event(name, CALL, f"Conference: {conf}\r\n{b.headers(count)}{chan}{tail}")


def originate_response(
    action_id: str | None,
    *,
    success: bool,
    channel: str,
    location: list[tuple[str, str]],
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
) -> str:
    """OriginateResponse as captured: ``ActionID`` first, ``Channel`` is the real name on
    success and the requested dial string on failure (fixtures README, OriginateResponse)."""
    aid = f"ActionID: {action_id}\r\n" if action_id is not None else ""
    loc = "".join(f"{k}: {v}\r\n" for k, v in location)
    return event(
        "OriginateResponse",
        CALL,
        f"{aid}Response: {'Success' if success else 'Failure'}\r\nChannel: {channel}\r\n"
        f"{loc}Reason: {reason}\r\nUniqueid: {uniqueid}\r\n"
        f"CallerIDNum: {cid_num}\r\nCallerIDName: {cid_name}\r\n",
    )
