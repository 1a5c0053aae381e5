"""Build a pacer by name: the one place that maps configuration to pacing classes.

``PACERS`` lists every name ``make_pacer`` accepts. Each pacer takes only the tunables
it understands; the others are ignored, so one campaign configuration can switch modes
without being rewritten.
"""

from __future__ import annotations

from pacing.base import Pacer
from pacing.progressive import ProgressivePacer
from pacing.ratio import RatioPacer
from pacing.vicidial import VicidialAdaptivePacer

PACERS: tuple[str, ...] = ("progressive", "ratio", "vicidial-adaptive", "predictive")


def make_pacer(
    name: str,
    *,
    abandon_target: float = 0.03,
    connect_deadline: float = 2.0,
    dial_level: float = 2.0,
) -> Pacer:
    """The pacer called ``name``.

    ``abandon_target``: abandons as a share of live calls, 0..1 (predictive).
    ``connect_deadline``: seconds a detected person may wait for an agent (predictive).
    ``dial_level``: calls in flight per ready agent (ratio).
    """
    if name == "progressive":
        return ProgressivePacer()
    if name == "ratio":
        return RatioPacer(dial_level=dial_level)
    if name == "vicidial-adaptive":
        # VICIdial drives its dial level itself and reads the drop target from each
        # snapshot (``abandon_target``), so it needs no tunable here.
        return VicidialAdaptivePacer()
    if name == "predictive":
        # Imported here so that this module (and the baseline pacers) load on their own;
        # the predictive model is the heaviest pacer and is built by another module.
        from pacing.predictive import (  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
            PredictivePacer,
        )

        pacer: Pacer = PredictivePacer(
            abandon_target=abandon_target, connect_deadline=connect_deadline
        )
        return pacer
    raise ValueError(f"unknown pacer {name!r}; expected one of {', '.join(PACERS)}")
