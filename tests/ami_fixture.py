"""Read the captured AMI transcripts and compare them with what the emulator sends.

A transcript (``shared/fixtures/asterisk-ami/transcripts/<scenario>.txt``) is a list
of blocks, each marked ``### +T >>> sent`` or ``### +T <<< recv`` (the fixtures
README, "Transcript format"). ``comparable`` keeps the blocks the emulator is meant to
reproduce; ``normalise`` removes what legitimately differs between two runs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.ami_raw_client import Block, field

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "asterisk-ami"
TRANSCRIPTS = FIXTURES / "transcripts"

# Events the emulator reproduces. Left out, because the emulator does not execute a
# dialplan or play media: Newexten (one per dialplan line), NewCallerid and
# NewConnectedLine (caller-id bookkeeping of Local channels), LocalBridge,
# MusicOnHold*, and the Queue()/queue-member events (Queue() is not emulated: the
# engine routes through agent conferences, issue 4).
EMULATED_EVENTS = frozenset(
    {
        "FullyBooted",
        "SuccessfulAuth",
        "Newchannel",
        "Newstate",
        "DialBegin",
        "DialState",
        "DialEnd",
        "OriginateResponse",
        "HangupRequest",
        "SoftHangupRequest",
        "Hangup",
        "UserEvent",
        "VarSet",
        "BridgeCreate",
        "BridgeEnter",
        "BridgeLeave",
        "BridgeDestroy",
        "ConfbridgeStart",
        "ConfbridgeJoin",
        "ConfbridgeLeave",
        "ConfbridgeEnd",
        "ConfbridgeList",
        "ConfbridgeListComplete",
    }
)
# VarSet is reproduced only for the variables the engine reads: the AMD verdict, the
# conference result and the Originate's own variables (our call/lead ids). The rest
# (PLAYBACKSTATUS, BRIDGEPEER, DIALSTATUS, ANSWEREDTIME...) are dialplan bookkeeping.
EMULATED_VARIABLES = frozenset({"AMDSTATUS", "AMDCAUSE", "CONFBRIDGE_RESULT"})

# Fields whose values differ between any two runs of the same call, even on the real
# Asterisk, and so are not compared:
# - Priority/DestPriority: dialplan line numbers; the emulator plays each context as a
#   whole, not line by line, so a priority would only restate the captured file's layout;
# - Timestamp (Ping), Uptime/LastReload (seconds since boot), EventTV/SessionTV (clock),
#   SessionID (a pointer), Local/RemoteAddress (ephemeral ports), AnsweredTime (seconds).
IGNORED_FIELDS = frozenset(
    {
        "Priority",
        "DestPriority",
        "Timestamp",
        "Uptime",
        "LastReload",
        "EventTV",
        "SessionTV",
        "SessionID",
        "LocalAddress",
        "RemoteAddress",
        "AnsweredTime",
    }
)
# Values normalised instead of ignored, so that their shape is still checked:
# - a generated uniqueid/linkedid "<epoch>.<seq>" (ChannelId values are kept: the
#   Originate chose them and they must come back unchanged);
# - a BridgeUniqueid (a UUID);
# - the 8-hex-digit sequence in a channel name (Local/x@ctx-0000000a;1, CBAnn/...).
_EPOCH_ID = re.compile(r"^\d{9,}\.\d+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SEQ = re.compile(r"-[0-9a-f]{8}(?=;|,|$)")

# Event kinds whose position relative to others varies between runs (fixtures README:
# "The order of OriginateResponse against Newstate, DialEnd and DialBegin varies",
# "Do not rely on the order of ConfbridgeJoin vs BridgeEnter, or ConfbridgeLeave vs
# BridgeLeave", the Originate variables' VarSets "Do not rely on their order").
UNORDERED_EVENTS = frozenset(
    {"OriginateResponse", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeStart", "ConfbridgeEnd"}
)


@dataclass(frozen=True, slots=True)
class TBlock:
    t: float
    sent: bool
    headers: Block


def parse_transcript(path: Path) -> list[TBlock]:
    out: list[TBlock] = []
    cur: TBlock | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"### \+([\d.]+) (>>>|<<<)", line)
        if m:
            cur = TBlock(float(m.group(1)), m.group(2) == ">>>", [])
            out.append(cur)
            continue
        if cur is None or not line or ":" not in line:
            continue
        k, _, v = line.partition(":")
        cur.headers.append((k, v[1:] if v.startswith(" ") else v))
    return [b for b in out if b.headers]


def originate_variables(blocks: list[TBlock]) -> frozenset[str]:
    names = set()
    for b in blocks:
        if b.sent and field(b.headers, "Action") == "Originate":
            for k, v in b.headers:
                if k == "Variable":
                    names.add(v.partition("=")[0])
    return frozenset(names)


def comparable(block: Block, variables: frozenset[str]) -> bool:
    name = field(block, "Event")
    if not name:
        # Responses, except Ping's (panoramisk's keepalive, not part of a scenario).
        return bool(block) and block[0][0] == "Response" and not field(block, "Ping")
    if name not in EMULATED_EVENTS:
        return False
    if name == "VarSet":
        var = field(block, "Variable")
        return var in EMULATED_VARIABLES or var in variables
    return True


def normalise_value(value: str) -> str:
    if _EPOCH_ID.match(value):
        return "<uid>"
    if _UUID.match(value):
        return "<uuid>"
    return _SEQ.sub("-<seq>", value)


def normalise(block: Block) -> tuple[tuple[str, str], ...]:
    return tuple((k, normalise_value(v)) for k, v in block if k not in IGNORED_FIELDS)


def channel_key(block: Block) -> str:
    """Whose event it is, for the per-channel order: the channel, else the bridge."""
    return normalise_value(
        field(block, "Channel") or field(block, "DestChannel") or field(block, "BridgeType")
    )


def per_channel_order(
    blocks: list[Block], variables: frozenset[str]
) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    out: dict[str, list[tuple[tuple[str, str], ...]]] = {}
    for b in blocks:
        name = field(b, "Event")
        if not name or name in UNORDERED_EVENTS:
            continue
        if name == "VarSet" and field(b, "Variable") in variables:
            continue
        out.setdefault(channel_key(b), []).append(normalise(b))
    return out


def multiset_diff(
    expected: list[Block], actual: list[Block]
) -> tuple[list[tuple[tuple[str, str], ...]], list[tuple[tuple[str, str], ...]]]:
    """(missing from actual, unexpected in actual), after normalisation."""
    e = Counter(normalise(b) for b in expected)
    a = Counter(normalise(b) for b in actual)
    return list((e - a).elements()), list((a - e).elements())
