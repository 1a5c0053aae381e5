"""Online estimators the predictive pacer learns from what it observes. Pure numpy.

Everything lives on one time grid of ``dt`` seconds. Two kinds of quantity:

``DialOutcomeModel``: for a call of age ``a`` (seconds since originate) still unresolved,
the probability that it turns into a live answer (detected person) by ``a + s``:

    P(live in (a, a+s] | unresolved at a) = (L(a+s) - L(a)) / (1 - R(a))

where ``L(x)`` is the probability a dial is live and resolved by age ``x`` and ``R(x)`` the
probability it is resolved at all (any outcome) by ``x``. Live answers and failures are
competing risks, and the calls still ringing are right-censored at their age: without
them the first minute of a shift would see mostly the fast failures (busy, congestion)
and few of the slower live answers, underestimate the contact rate and over-dial. So
``L`` and ``R`` come from the Aalen-Johansen estimator over exponentially forgotten
histograms (half-life in seconds of engine time, so contact-rate shifts are followed
within minutes), with a pessimistic prior (many people answer).

``SpellModel``: talk or wrap-up durations by Kaplan-Meier, with the spells still open
(agents mid-call) as right-censored observations. Without the censored spells the
first minutes of a shift would see only the short calls that already ended, and the
pacer would expect agents to free up far sooner than they do. Beyond the data the
hazard is held constant at the tail's pooled rate (events / exposure).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from pacing.base import FloatArray


class DialOutcomeModel:
    def __init__(
        self,
        *,
        dt: float,
        max_age: float,
        half_life: float = 600.0,
        prior_live: float = 0.5,
        prior_weight: float = 20.0,
        prior_delay: tuple[float, float] = (4.0, 14.0),
    ) -> None:
        self.dt = dt
        self.n = math.ceil(max_age / dt) + 1
        self.half_life = half_life
        self._live = np.zeros(self.n)
        self._all = np.zeros(self.n)
        lo, hi = (int(x / dt) for x in prior_delay)
        width = max(1, hi - lo)
        # The prior: a share ``prior_live`` of dials live, spread over prior_delay;
        # the rest resolve over the same span. It fades with the same forgetting.
        self._live[lo:hi] += prior_weight * prior_live / width
        self._all[lo:hi] += prior_weight / width
        self._t = 0.0
        self.observed = 0

    def _decay_to(self, now: float) -> None:
        if now > self._t:
            f = 0.5 ** ((now - self._t) / self.half_life)
            if f < 0.999:
                self._live *= f
                self._all *= f
                self._t = now

    def observe(self, *, age: float, live: bool, now: float) -> None:
        self._decay_to(now)
        i = min(self.n - 1, int(age / self.dt))
        self._all[i] += 1.0
        if live:
            self._live[i] += 1.0
        self.observed += 1

    def cdfs(self, pending_ages: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(L, R)`` at the grid points 0, dt, ..., n·dt (Aalen-Johansen).

        A call pending at age ``a`` is known unresolved through the bins before
        ``floor(a / dt)``; it is at risk there and nowhere else.
        """
        n = self.n
        idx = np.minimum(pending_ages / self.dt, n - 1).astype(np.int64)
        cens = np.bincount(idx, minlength=n).astype(np.float64)
        events = self._all
        later_events = np.cumsum(events[::-1])[::-1]
        later_cens = np.concatenate((np.cumsum(cens[::-1])[::-1][1:], [0.0]))
        at_risk = np.maximum(later_events + later_cens, 1e-12)
        h_live = self._live / at_risk
        h_any = np.clip(events / at_risk, 0.0, 1.0)
        surv = np.concatenate(([1.0], np.cumprod(1.0 - h_any)))
        live_cdf = np.concatenate(([0.0], np.cumsum(surv[:-1] * h_live)))
        res_cdf = 1.0 - surv
        return live_cdf, res_cdf

    def table(self, horizon_bins: int, pending_ages: FloatArray | None = None) -> FloatArray:
        """``T[a, k]``: P(live by age a + (k+1)·dt | unresolved at age a), for age bin a."""
        ages_pending = np.zeros(0) if pending_ages is None else pending_ages
        live_cdf, res_cdf = self.cdfs(ages_pending)
        ages = np.arange(self.n)
        ends = np.minimum(ages[:, None] + np.arange(1, horizon_bins + 1)[None, :], self.n)
        surv = np.maximum(1.0 - res_cdf[ages], 1e-9)
        out = (live_cdf[ends] - live_cdf[ages][:, None]) / surv[:, None]
        result: FloatArray = np.clip(out, 0.0, 1.0)
        return result


class SpellModel:
    def __init__(
        self,
        *,
        dt: float,
        max_duration: float,
        prior_mean: float,
        prior_weight: float = 3.0,
        window: int = 500,
    ) -> None:
        self.dt = dt
        self.n = math.ceil(max_duration / dt)
        self._done: deque[float] = deque(maxlen=window)
        grid = np.arange(self.n + 1) * dt
        # Prior: exponential spells of ``prior_mean`` seconds, ``prior_weight`` of them.
        self._prior = prior_weight * np.diff(1.0 - np.exp(-grid / prior_mean))
        self._prior_hazard = 1.0 - math.exp(-dt / prior_mean)
        self.completed = 0

    def observe(self, duration: float) -> None:
        self._done.append(duration)
        self.completed += 1

    def survival(self, open_elapsed: FloatArray) -> FloatArray:
        """S(t) at the grid points 0, dt, ..., n·dt (length n+1), Kaplan-Meier."""
        n = self.n
        idx_e = np.minimum(np.asarray(self._done, dtype=np.float64) / self.dt, n - 1).astype(
            np.int64
        )
        events = np.bincount(idx_e, minlength=n).astype(np.float64) + self._prior
        idx_c = np.minimum(open_elapsed / self.dt, n - 1).astype(np.int64)
        censored = np.bincount(idx_c, minlength=n).astype(np.float64)
        leaving = events + censored
        at_risk = np.concatenate(([leaving.sum()], leaving.sum() - np.cumsum(leaving)[:-1]))
        hazard = np.where(at_risk > 0, events / np.maximum(at_risk, 1e-12), 0.0)
        # Where fewer than 5 spells remain at risk, the estimate is noise: pool the tail.
        thin = at_risk < 5.0
        if thin.any():
            first = int(np.argmax(thin))
            exposure = float(at_risk[first:].sum())
            tail_events = float(events[first:].sum())
            h = tail_events / exposure if exposure > 1.0 and tail_events > 0.5 else 0.0
            hazard[first:] = max(h, self._prior_hazard)
        hazard = np.clip(hazard, 0.0, 1.0)
        result: FloatArray = np.concatenate(([1.0], np.cumprod(1.0 - hazard)))
        return result

    def mean(self, open_elapsed: FloatArray) -> float:
        s = self.survival(open_elapsed)
        return float(s.sum() * self.dt)
