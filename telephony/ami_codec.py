"""The AMI wire format, parsed (pure: bytes in, header dicts out).

An AMI message is a block of ``Key: Value`` lines ended by an empty line; on the wire
every line ends in CRLF (fixtures README, "Transcript format"). The banner
``Asterisk Call Manager/x.y.z`` is a single line: it has no ``": "`` and is skipped.

Invariants:
- never raises on any input: garbage lines (no ``": "``) are skipped, undecodable bytes
  become U+FFFD (decoded per complete block, so a UTF-8 character split across TCP
  chunks survives, unlike panoramisk's per-chunk ``errors='ignore'``);
- memory is bounded: a block longer than ``max_block`` bytes without its terminating
  empty line is dropped (counted in ``dropped``) rather than buffered forever;
- a repeated key keeps its first value (AMI repeats only ``ChanVariable``/``Variable``).

Also ``format_action``: the inverse, for tests, the emulator-facing benchmark and the
``dialer telephony check`` dry output. Values must not contain CR or LF (header injection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_BLOCK = 256 * 1024  # bytes; AMI blocks are a few hundred bytes, CoreShowChannels ~1 KiB

Message = dict[str, str]


class AmiParser:
    """Incremental parser: ``feed`` bytes as they come, get back complete messages."""

    __slots__ = ("_buf", "dropped", "max_block")

    def __init__(self, *, max_block: int = MAX_BLOCK) -> None:
        if max_block < 64:
            raise ValueError("max_block must be at least 64 bytes")
        self._buf = b""
        self.max_block = max_block
        self.dropped = 0  # oversized blocks discarded

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:
            # Normalise CRLF; a lone CR at the very end may be half of a CRLF split
            # across chunks, so it stays in the buffer until the next feed.
            tail = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n")
            if tail:
                buf, self._buf = buf[:-1], b"\r"
            else:
                self._buf = b""
        else:
            self._buf = b""
        blocks = buf.split(b"\n\n")
        rest = blocks.pop()
        if len(rest) > self.max_block:
            self.dropped += 1
            rest = b""
        self._buf = rest + self._buf
        out: list[Message] = []
        for block in blocks:
            if len(block) > self.max_block:
                self.dropped += 1
                continue
            msg = parse_block(block)
            if msg:
                out.append(msg)
        return out


def parse_block(block: bytes) -> Message:
    """One block (without its terminating empty line) as a header dict; ``{}`` if empty."""
    msg: Message = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition(": ")
        if sep and key and key not in msg:
            msg[key] = value.rstrip("\r")
    return msg


def format_action(headers: Mapping[str, str | Iterable[str]]) -> bytes:
    """Headers as one CRLF-terminated block; a list value repeats its key per item.

    Raises ``ValueError`` if a key or value holds CR or LF: that would inject headers.
    """
    lines: list[str] = []
    for key, value in headers.items():
        values = [value] if isinstance(value, str) else list(value)
        for v in values:
            if any(c in key or c in v for c in "\r\n"):
                raise ValueError(f"AMI header {key!r}: CR/LF not allowed")
            lines.append(f"{key}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
