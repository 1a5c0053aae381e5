"""Settings of the AMI adapter: one ``AmiSettings`` per Asterisk server, validated once.

Seconds for times. The secret never appears in ``repr``/``str`` (``field(repr=False)``)
nor in any error raised here. Context and extension names default to those of the
dialplan shipped in ``asterisk/extensions_dialer.conf``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

# Dialplan names we put into AMI headers: letters, digits, "-", "_" (no dial-string or
# header metacharacters).
_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_HOST = re.compile(r"[A-Za-z0-9.:_-]{1,253}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Trunk:
    """An outbound route: ``template`` with one ``{number}`` (bare E.164 digits), e.g.
    ``PJSIP/{number}@carrier`` or ``PJSIP/+{number}@carrier`` or ``Local/{number}@out``.
    ``channels``: how many calls this trunk may carry at once (its channel limit)."""

    name: str
    template: str
    channels: int

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"trunk name {self.name!r}: letters, digits, '-', '_' only")
        fields = [f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None]
        if fields != ["number"]:
            raise ValueError(f"trunk {self.name}: template must hold exactly one {{number}}")
        if any(c in self.template for c in "\r\n,&"):
            raise ValueError(f"trunk {self.name}: template must not contain CR, LF, ',' or '&'")
        if self.channels < 1:
            raise ValueError(f"trunk {self.name}: channels must be >= 1")

    def dial_string(self, digits: str) -> str:
        """``digits`` must already be ``telephony.port.e164_digits`` output."""
        return self.template.format(number=digits)


@dataclass(frozen=True, slots=True, kw_only=True)
class AmiSettings:
    """One Asterisk server reached over AMI, and the dialplan we use on it."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "dialer"
    secret: str = field(default="", repr=False)
    name: str = ""  # for logs; default "host:port"
    trunks: tuple[Trunk, ...] = (Trunk(name="trunk", template="PJSIP/{number}@trunk", channels=30),)
    # Where an originated call goes once answered (extensions_dialer.conf): ``amd`` runs
    # Asterisk's AMD(); ``engine`` runs our detector over AudioSocket (AMD() fallback).
    outbound_context: str = "dialer-outbound"
    outbound_exten: str = "amd"
    route_context: str = "dialer-route"  # abandon and machine-message extensions
    abandon_exten: str = "abandon"
    machine_exten: str = "machine-message"
    conference_context: str = "dialer-conf"  # Redirect target: exten = the agent's number
    conference_prefix: str = "agent-"  # ConfBridge room of agent N: "agent-N"
    login_context: str = "dialer-agent-login"  # only checked by ``dialer telephony check``
    caller_id: str = ""  # Originate CallerID, e.g. '"Collections" <5550100>'; "" = trunk's
    # Login ``Events:``: the classes we need; add "dialplan" for the VarSet AMDSTATUS
    # fallback (60% of the event volume: fixtures README pitfall 6).
    events: str = "system,call,user"
    connect_timeout: float = 5.0
    action_timeout: float = 5.0  # a response to any action
    ping_interval: float = 10.0
    ping_timeout: float = 5.0  # no Pong in time: the connection is dropped and re-made
    reconnect_min: float = 0.5  # backoff: doubles after each failed attempt ...
    reconnect_max: float = 30.0  # ... up to this
    originate_grace: float = 30.0  # no outcome this long after the ring timeout: ask the PBX

    def __post_init__(self) -> None:
        if not _HOST.fullmatch(self.host):
            raise ValueError(f"host {self.host!r} is not a host name or address")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, got {self.port}")
        if not self.username or any(c in self.username for c in "\r\n"):
            raise ValueError("username must be non-empty, without CR/LF")
        if any(c in self.secret for c in "\r\n"):
            raise ValueError("secret must not contain CR/LF")  # never echo the value
        if not self.trunks:
            raise ValueError("trunks: at least one trunk is needed")
        if len({t.name for t in self.trunks}) != len(self.trunks):
            raise ValueError("trunks: names must be unique")
        for key in (
            "outbound_context",
            "outbound_exten",
            "route_context",
            "abandon_exten",
            "machine_exten",
            "conference_context",
            "conference_prefix",
            "login_context",
        ):
            if not _NAME.fullmatch(getattr(self, key)):
                raise ValueError(f"{key}: letters, digits, '-', '_' only")
        if any(c in self.caller_id for c in "\r\n"):
            raise ValueError("caller_id must not contain CR/LF")
        for key in (
            "connect_timeout",
            "action_timeout",
            "ping_interval",
            "ping_timeout",
            "reconnect_min",
            "reconnect_max",
            "originate_grace",
        ):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0 seconds")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must be >= reconnect_min")

    @property
    def label(self) -> str:
        """How logs and errors name this server: ``name (host:port)``, never the secret."""
        where = f"{self.host}:{self.port}"
        return f"{self.name} ({where})" if self.name else where

    @property
    def channels(self) -> int:
        return sum(t.channels for t in self.trunks)
