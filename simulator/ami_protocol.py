"""AMI wire format for the emulator: framing client bytes into messages, writing blocks.

What the captures show (``shared/fixtures/asterisk-ami/README.md``, "Transcript format"):
every line ends in CRLF, every block ends with an empty line, and the banner
``Asterisk Call Manager/x.y.z`` is a single CRLF line, not a block. A header is
``Key: Value``; the value may be empty (``AccountCode: `` keeps its trailing space) and
a key may repeat (``Variable:`` once per variable).

Asterisk's own reader (main/manager.c, ``get_input``) splits on LF and drops a CR before
it, so the framer accepts bare LF too. Input is never trusted: non-UTF-8 bytes are
replaced, a line without a colon is ignored, and a block or line larger than
``MAX_BLOCK`` bytes is reported as an error instead of growing the buffer forever.

Pure: no sockets, no clock. ``encode_block`` is on the hot path of the emulator (tens
of thousands of events per second), so it joins strings once and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

CRLF = "\r\n"
# Asterisk caps a manager line at 1024 bytes; we allow far more (a block of long
# Variable lines) but never an unbounded buffer. Bytes.
MAX_BLOCK = 256 * 1024

Headers = list[tuple[str, str]]

# ChannelState number -> ChannelStateDesc (include/asterisk/channelstate.h, ast_state2str).
STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
}

# Q.850 cause -> Cause-txt as Asterisk writes it (main/causes.c); the ones the captures
# show are 0, 1, 16, 17, 19 and 34; the rest are what a trunk commonly returns.
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    27: "Destination out of order",
    28: "Invalid number format (addressed incomplete)",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One block from the client: its headers in order, keys as sent."""

    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        """First value of ``key`` (case-insensitive, as Asterisk's astman_get_header)."""
        k = key.lower()
        for name, value in self.headers:
            if name.lower() == k:
                return value
        return default

    def has(self, key: str) -> bool:
        k = key.lower()
        return any(name.lower() == k for name, _ in self.headers)

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in order (``Variable``)."""
        k = key.lower()
        return [value for name, value in self.headers if name.lower() == k]

    @property
    def action(self) -> str:
        return self.get("Action")


class FramingError(ValueError):
    """The peer sent more than ``MAX_BLOCK`` bytes without ending a block."""


class Framer:
    """Feed bytes in, get whole messages out; keeps the partial block between calls."""

    __slots__ = ("_buf", "_lines")

    def __init__(self) -> None:
        self._buf = b""
        self._lines: list[tuple[str, str]] = []

    def feed(self, data: bytes) -> list[Message]:
        """Split ``data`` (any chunking) into messages; raises ``FramingError`` on overflow."""
        buf = self._buf + data if self._buf else data
        out: list[Message] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            raw = buf[start:nl]
            start = nl + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw:
                if self._lines:
                    out.append(Message(tuple(self._lines)))
                    self._lines = []
                continue
            line = raw.decode("utf-8", errors="replace")
            key, sep, value = line.partition(":")
            if not sep:
                continue  # not a header; Asterisk ignores such lines too
            self._lines.append((key.strip(), value[1:] if value.startswith(" ") else value))
        self._buf = buf[start:]
        pending = len(self._buf) + sum(len(k) + len(v) for k, v in self._lines)
        if pending > MAX_BLOCK:
            self._buf, self._lines = b"", []
            raise FramingError(f"block larger than {MAX_BLOCK} bytes")
        return out


def encode_block(headers: Iterable[tuple[str, str]]) -> str:
    """``Key: Value`` lines with CRLF, then the empty line that ends a block."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers) + CRLF


def response(action_id: str | None, status: str, *extra: tuple[str, str]) -> str:
    """A ``Response:`` block; ``ActionID`` right after ``Response`` as Asterisk puts it."""
    head = f"Response: {status}\r\n"
    if action_id is not None:
        head += f"ActionID: {action_id}\r\n"
    return head + "".join(f"{k}: {v}\r\n" for k, v in extra) + CRLF


def parse_variables(values: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``Variable: NAME=value`` lines (also comma-separated in one line) as pairs.

    Asterisk accepts both forms; a value may itself contain ``=``. Empty names are
    skipped, as ``ast_variables`` does.
    """
    for value in values:
        for item in value.split(","):
            name, _, val = item.partition("=")
            name = name.strip()
            if name:
                yield name, val


ALL_EVENTS = frozenset({"*"})


def parse_event_mask(value: str) -> frozenset[str]:
    """A Login/Events ``Events:`` value -> event classes to send (``ALL_EVENTS``: all).

    ``on``/``yes``/``true`` (and an absent header) mean everything the user may read,
    ``off``/``no``/``false`` nothing, else a comma list of classes (``call,user,agent``).
    """
    v = value.strip().lower()
    if v in ("", "on", "yes", "true", "all"):
        return ALL_EVENTS
    if v in ("off", "no", "false", "none"):
        return frozenset()
    classes = frozenset(part.strip() for part in v.split(",") if part.strip())
    return ALL_EVENTS if "all" in classes else classes
