"""``[host]``: how a campaign host process runs its campaigns (``dialer campaign start
--config FILE``). The command line's ``--drain-timeout`` wins over the file."""

from __future__ import annotations

from dataclasses import dataclass

from dialer.campaign_host import HostSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class HostConfig:
    """``poll_interval``: real seconds between reads of the control plane (stop, pause,
    resume from another terminal) and heartbeats. ``drain_timeout``: engine seconds a
    stopping campaign waits for calls in flight and wrap-ups (then the store reconciles
    what is left on the next start)."""

    poll_interval: float = 1.0
    drain_timeout: float = 600.0

    def __post_init__(self) -> None:
        # The host's own checks, so the file and the command line say the same thing.
        HostSettings(poll_interval=self.poll_interval, drain_timeout=self.drain_timeout)

    def host_settings(self, *, host_id: str, drain_timeout: float | None) -> HostSettings:
        return HostSettings(
            poll_interval=self.poll_interval,
            drain_timeout=self.drain_timeout if drain_timeout is None else drain_timeout,
            host_id=host_id,
        )
