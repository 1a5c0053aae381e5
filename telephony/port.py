"""The telephony port: the one interface between the engine and any PBX or simulator.

The engine never knows which backend it talks to. Backends: ``simulator.telephony``
(synthetic traffic in virtual time) and the Asterisk AMI adapter. Every method returns
once the order is *accepted*, never when the call progresses: progress comes back as
events (``telephony.events``) from ``events()``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dialer.errors import InvalidNumber
from dialer.ids import AgentId, CallId, LeadId
from telephony.events import CallEvent

# ITU-T E.164: at most 15 digits, country code first, no leading zero. We keep the "+"
# out of the stored form; dial-string templates add whatever prefix the trunk needs.
_E164 = re.compile(r"[1-9][0-9]{6,14}")


def e164_digits(number: str) -> str:
    """Return ``number`` as bare E.164 digits, or raise ``InvalidNumber``.

    Accepts an optional leading ``+`` and nothing else: no spaces, dashes or letters.
    A number reaches an Asterisk dial string only through here, because dial strings
    are a command language (``&``, ``/``, ``,``, ``@`` and ``)`` all mean something).
    """
    digits = number[1:] if number.startswith("+") else number
    if not _E164.fullmatch(digits):
        raise InvalidNumber(f"not an E.164 number: {number!r}")
    return digits


@dataclass(frozen=True, slots=True)
class Originate:
    """An order to place one outbound call.

    ``number`` is validated E.164 digits. ``variables`` travel with the call through the
    PBX (channel variables) so that every event can be tied back to our call and lead.
    ``ring_timeout`` is seconds of ringing before giving up (a ``no_answer`` failure).
    ``reserved_for`` names the agent the call is placed for (progressive): its human
    answer goes to that agent only.
    """

    call: CallId
    lead: LeadId
    number: str
    ring_timeout: float
    reserved_for: AgentId | None = None
    variables: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        e164_digits(self.number)
        if self.ring_timeout <= 0:
            raise ValueError("ring_timeout must be positive seconds")


class Telephony(Protocol):
    """What the engine needs from a PBX."""

    async def originate(self, request: Originate) -> None:
        """Place a call. Raises ``TelephonyError`` if the order cannot even be sent."""

    async def bridge(self, call: CallId, agent: AgentId) -> None:
        """Connect an answered call to an agent; ``CallBridged`` follows when they hear it."""

    async def play_and_hangup(self, call: CallId, prompt: str) -> None:
        """Play ``prompt`` (identification/abandon or machine message), then hang up."""

    async def hangup(self, call: CallId) -> None:
        """Hang the call up now (a ringing call becomes ``CallFailed(CANCELLED)``)."""

    def events(self) -> AsyncIterator[CallEvent]:
        """The stream of call events, in the order they happened."""
        ...
