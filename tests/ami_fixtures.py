"""Reading the real Asterisk transcripts of ``shared/fixtures/asterisk-ami`` (tests only).

A transcript is a list of ``### +T <<< recv`` / ``### +T >>> sent`` blocks
(fixtures README, "Transcript format"). ``wire_bytes`` rebuilds what Asterisk wrote on
the socket (CRLF line ends, an empty line after each block, the banner as one line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "asterisk-ami"
TRANSCRIPTS = FIXTURES / "transcripts"
_HEAD = re.compile(r"^### \+(\d+\.\d+) (>>> sent|<<< recv)\n", re.M)


@dataclass(frozen=True, slots=True)
class Block:
    t: float
    sent: bool
    text: str  # LF line ends, without the trailing empty line

    def headers(self) -> list[tuple[str, str]]:
        out = []
        for line in self.text.split("\n"):
            key, sep, value = line.partition(": ")
            if sep:
                out.append((key, value))
        return out


def transcript_names() -> list[str]:
    return sorted(p.stem for p in TRANSCRIPTS.glob("*.txt"))


def blocks(name: str) -> list[Block]:
    text = (TRANSCRIPTS / f"{name}.txt").read_text(encoding="utf-8")
    parts = _HEAD.split(text)
    out = []
    for i in range(1, len(parts), 3):
        body = parts[i + 2]
        if body.endswith("\n\n"):
            body = body[:-2]
        elif body.endswith("\n"):
            body = body[:-1]
        out.append(Block(float(parts[i]), parts[i + 1] == ">>> sent", body))
    return out


def wire_bytes(block: Block) -> bytes:
    """What Asterisk wrote for ``block``: CRLF lines and a terminating empty line."""
    if block.text.startswith("Asterisk Call Manager/"):
        return (block.text.strip("\n") + "\r\n").encode("utf-8")
    return (block.text.replace("\n", "\r\n") + "\r\n\r\n").encode("utf-8")
