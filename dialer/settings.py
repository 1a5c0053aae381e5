"""Campaign settings the runner needs, validated once at the edge and then trusted."""

from __future__ import annotations

from dataclasses import dataclass

from dialer.errors import ConfigError
from dialer.ids import CampaignId

AMD_CHOICES = ("asterisk", "engine")


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignSettings:
    """Seconds for times, ratios in 0..1.

    ``connect_deadline``: how long a detected person may wait for an agent before the
    identification message (2 s: UK Ofcom's persistent-misuse policy and the US TCPA
    safe harbour, 47 CFR 64.1200(a)(7)). ``abandon_target``: the ceiling on abandoned /
    live answers the predictive pacer spends (3%: both rules). ``max_lines``: trunk
    channels the campaign may hold at once (calls ringing, waiting or talking).
    """

    campaign: CampaignId = CampaignId("default")  # noqa: RUF009 - a NewType is free
    no_answer_timeout: float = 25.0
    connect_deadline: float = 2.0
    abandon_target: float = 0.03
    max_lines: int | None = None
    abandon_prompt: str = "dialer-abandon"
    machine_prompt: str | None = None  # None: hang up on machines
    not_sure_as_human: bool = True  # route "not sure" to an agent rather than drop a person
    tick_interval: float = 0.25  # the runner decides at least this often (engine seconds)
    min_tick_interval: float = 0.25  # and at most this often, however many events arrive
    lead_retry_interval: float = 30.0  # re-ask an empty lead supply after this long
    # Answering-machine detection: "asterisk" (the dialplan's AMD()) or "engine" (our
    # detector over AudioSocket); None: the Asterisk server's outbound_exten decides.
    amd: str | None = None

    def __post_init__(self) -> None:
        src = f"campaign {self.campaign}"
        if not 0.0 < self.abandon_target < 1.0:
            raise ConfigError(src, "abandon_target", "must be a ratio strictly between 0 and 1")
        if self.connect_deadline < 0:
            raise ConfigError(src, "connect_deadline", "must be >= 0 seconds")
        if self.no_answer_timeout <= 0:
            raise ConfigError(src, "no_answer_timeout", "must be > 0 seconds")
        if self.max_lines is not None and self.max_lines < 1:
            raise ConfigError(src, "max_lines", "must be a positive number of channels")
        if self.amd is not None and self.amd not in AMD_CHOICES:
            raise ConfigError(src, "amd", f"expected one of {', '.join(AMD_CHOICES)}")
        if not 0 < self.min_tick_interval <= self.tick_interval:
            raise ConfigError(src, "tick_interval", "need 0 < min_tick_interval <= tick_interval")
