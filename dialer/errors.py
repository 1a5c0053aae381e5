"""The error tree: one root, one family per package.

A compliance denial or a pacing "no" is a value, never an exception; exceptions are
for things that are wrong (bad input, an impossible transition, a broken backend).
"""

from __future__ import annotations


class DialerError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(DialerError):
    """A configuration or scenario file is invalid; names the file, the key and the reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}")


class IllegalTransition(DialerError):  # noqa: N818 - the name reads as what happened
    """A state machine was asked for a transition its table does not allow.

    The state is left untouched (the machines are pure: ``apply`` returns a new state).
    """

    def __init__(self, machine: str, state: str, event: str) -> None:
        self.machine = machine
        self.state = state
        self.event = event
        super().__init__(f"{machine}: no transition from {state!r} on {event!r}")


class TelephonyError(DialerError):
    """A telephony backend failed (refused originate, lost connection, bad number)."""


class TelephonyUnavailable(TelephonyError):  # noqa: N818 - reads as what happened
    """The backend cannot place any call right now (every PBX unreachable); the same
    order may work in a moment. The runner pauses dialling briefly instead of spending
    lead after lead on refusals."""


class InvalidNumber(TelephonyError):  # noqa: N818
    """A phone number is not strict E.164 digits; refused before reaching any dial string."""
