"""Base priority of a lead: segment, debt amount and days past due (higher dials first).

score = segment_weight * (1 + amount_weight * log10(1 + amount / amount_unit)
                             + dpd_weight * min(days_past_due, dpd_cap) / dpd_cap)

The log of the amount keeps one huge balance from burying every other lead; days past
due are capped so a ten-year-old debt does not outrank everything (recovery falls with
age; set ``dpd_weight`` negative to favour early buckets instead). Pure and cheap: the
importer computes it per row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityWeights:
    """``segments``: weight per segment name (unknown or None: ``default_segment``)."""

    segments: Mapping[str, float] = field(default_factory=dict)
    default_segment: float = 1.0
    amount_weight: float = 1.0
    amount_unit: float = 100.0  # currency units; amounts are scaled by it before the log
    dpd_weight: float = 1.0
    dpd_cap: int = 180  # days

    def __post_init__(self) -> None:
        for name, value in self.segments.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"segments[{name!r}]: weight must be finite and >= 0")
        for name in ("default_segment", "amount_weight", "amount_unit", "dpd_weight"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name}: must be finite, got {value!r}")
        if self.default_segment < 0:
            raise ValueError("default_segment: must be >= 0")
        if self.amount_unit <= 0:
            raise ValueError("amount_unit: must be > 0")
        if self.dpd_cap <= 0:
            raise ValueError("dpd_cap: must be a positive number of days")


def priority(
    segment: str | None,
    debt_amount: Decimal | float,
    days_past_due: int,
    *,
    weights: PriorityWeights,
) -> float:
    """The lead's base priority (dimensionless, >= 0 with non-negative weights)."""
    amount = float(debt_amount)
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"debt_amount: must be a finite amount >= 0, got {debt_amount!r}")
    if isinstance(days_past_due, bool) or not isinstance(days_past_due, int) or days_past_due < 0:
        raise ValueError(f"days_past_due: must be an integer >= 0, got {days_past_due!r}")
    seg = weights.segments.get(segment, weights.default_segment) if segment else None
    seg_w = weights.default_segment if seg is None else seg
    amount_term = weights.amount_weight * math.log10(1.0 + amount / weights.amount_unit)
    dpd_term = weights.dpd_weight * min(days_past_due, weights.dpd_cap) / weights.dpd_cap
    return max(0.0, seg_w * (1.0 + amount_term + dpd_term))
