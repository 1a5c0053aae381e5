"""The store's error family (``dialer.errors.DialerError`` at the root).

Messages name what was wrong (campaign, agent, lead) and never carry the database URL's
password or an agent token.
"""

from __future__ import annotations

from dialer.errors import DialerError


class StoreError(DialerError):
    """The store could not do what was asked."""


class NotFound(StoreError):  # noqa: N818 - reads as what happened
    """A campaign, agent, lead or attempt does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class AlreadyExists(StoreError):  # noqa: N818
    """A campaign or agent with that name/code exists already."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} exists already")
