"""Sampled supply/demand paths and the exact marginal abandon of one more dial. Pure numpy.

The abandon count over a horizon, with live calls served first come first served and
each able to wait ``d`` seconds for an agent, is

    A = max(0, max_k X_k),   X_k = D_k - S_k

where ``D_k`` counts live answers (detected persons) arriving by bin ``k`` and ``S_k``
agents free by ``k + d`` (Hall's condition: the sets of agents a call may take are
nested, so greedy FCFS is a maximum matching and its deficiency is that maximum).

``X`` is a sum of independent steps (each call turns live once or never, each agent
frees once or not in time), so paths are cheap to sample from per-item CDF rows; we use
precomputed quantile tables so that a sample is a gather. For a new dial whose live
answer would land in bin ``tau`` (distribution ``pmf``), adding its +1 step to a path
raises ``A`` by exactly one iff ``max_{k>=tau} X_k >= max(0, max_{k<tau} X_k)``. The
marginal is therefore computed exactly over ``tau`` on every path (a Rao-Blackwellised
Monte Carlo), which keeps the estimate steady even with a few hundred paths.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pacing.base import FloatArray

IntArray = npt.NDArray[np.int64]
SmallIntArray = npt.NDArray[np.signedinteger[Any]]  # int8 or int16


def quantile_table(cdf: FloatArray, levels: int) -> IntArray:
    """``Q[r, j]``: the first bin where row ``r`` of ``cdf`` reaches quantile level
    ``(j + 0.5) / levels``; ``cdf.shape[1]`` (never, within the horizon) if it does not."""
    rows, _width = cdf.shape
    # Level j is reached at bin b iff (j + 0.5) / L <= cdf[r, b], i.e. j < t with
    # t = floor(cdf·L + 0.5). So Q[r, j] = #{b : t[r, b] <= j}: a cumulative histogram.
    t = np.clip(np.floor(cdf * levels + 0.5), 0, levels).astype(np.int64)
    flat = (np.arange(rows)[:, None] * (levels + 1) + t).ravel()
    hist = np.bincount(flat, minlength=rows * (levels + 1)).reshape(rows, levels + 1)
    out: IntArray = np.cumsum(hist[:, :levels], axis=1)
    return out


def stacked_table(supply: IntArray, demand: IntArray, horizon: int) -> SmallIntArray:
    """One quantile table for ``PathSet.sample``: the supply rows, then the demand rows
    shifted by ``horizon + 1`` so that one histogram counts both kinds of step apart.

    Both inputs hold bins in ``0..horizon`` (``horizon``: never within the horizon).
    Built once per forecast refresh, not per decision. Stored in the narrowest integer
    type that holds ``2·horizon + 1``: the per-decision gather reads it at random, and a
    table eight times smaller stays in the CPU cache (a third off the sampling time).
    """
    stacked = np.vstack((supply, demand + (horizon + 1)))
    if 2 * horizon + 1 <= np.iinfo(np.int8).max:
        return stacked.astype(np.int8)
    return stacked.astype(np.int16)


class PathSet:
    """``paths`` sampled trajectories of ``X_k = D_k - S_k`` for ``k < horizon``.

    Stored with a leading zero column (``x[:, 0] = 0``, ``x[:, k + 1] = X_k``): the
    running maximum of that array is ``max(0, max_{j<k} X_j)`` directly, which saves
    the marginal (evaluated a few times per decision) two numpy calls and a temporary.
    """

    __slots__ = ("_ks", "horizon", "paths", "x")

    def __init__(self, x: IntArray) -> None:
        self.x = x
        self.paths = x.shape[0]
        self.horizon = x.shape[1] - 1
        self._ks = np.arange(1, self.horizon + 1)

    @classmethod
    def sample(
        cls,
        *,
        draws: IntArray,
        horizon: int,
        ready: int,
        waiting: int,
        table: SmallIntArray,
        rows: IntArray,
    ) -> PathSet:
        """Sample ``len(draws)`` paths.

        ``table``: a ``stacked_table`` of supply and demand quantile tables; ``rows``:
        the table row of each item (agents on supply rows, calls in flight on demand
        rows). Supply rows hold, per agent, the first bin from which it can serve a call
        (its free bin minus the deadline); demand rows the bin a call turns live;
        ``horizon`` means never. ``draws``: quantile levels, one row per path, one
        column per item.
        """
        paths = draws.shape[0]
        width = horizon + 1
        # One gather and one histogram for both kinds of step: per path, the counts of
        # the supply bins then those of the demand bins, ``width`` each.
        bins = (
            np.take(table, rows * table.shape[1] + draws)
            + (np.arange(paths) * (2 * width))[:, None]
        )
        counts = np.bincount(bins.ravel(), minlength=paths * 2 * width).reshape(paths, 2, width)
        x = np.empty((paths, width), dtype=np.int64)
        x[:, 0] = 0
        np.cumsum(counts[:, 1, :horizon] - counts[:, 0, :horizon], axis=1, out=x[:, 1:])
        x[:, 1:] += waiting - ready
        return cls(x)

    def copy(self) -> PathSet:
        return PathSet(self.x.copy())

    def slack(self) -> int:
        """How many +1 steps every path can take before any could make an abandon."""
        return max(0, -int(self.x[:, 1:].max()))

    def _hits(self) -> IntArray:
        """Per bin ``k``, the paths where a dial live from ``k`` adds an abandon:
        ``max_{j>=k} X_j >= max(0, max_{j<k} X_j)`` (module docstring).

        That holds iff the path's overall maximum ``max(0, max_j X_j)`` is reached at or
        after ``X_k``, i.e. iff its *last* maximum sits in column ``k + 1`` or later of
        ``x`` (column 0 is the 0). So one ``argmax`` per path and a reversed running
        count replace two running maxima and a comparison (half the cost; the counts are
        identical: ``tests/test_fast_paths.py``).
        """
        x = self.x
        horizon = self.horizon
        last = horizon - np.argmax(x[:, ::-1], axis=1)
        counts = np.bincount(last, minlength=horizon + 1)
        hits: IntArray = np.cumsum(counts[:0:-1])[::-1]
        return hits

    def _spare(self) -> IntArray:
        """Per bin ``k``, the paths with an agent to spare (``X_k <= -1``)."""
        spare: IntArray = (self.x[:, 1:] <= -1).sum(axis=0)
        return spare

    def marginal(self, pmf: FloatArray) -> float:
        """E[increase of abandons] from one more dial live in bin k with prob ``pmf[k]``."""
        return float(self._hits() @ pmf) / self.paths  # type: ignore[no-any-return]

    def expected_abandons(self) -> float:
        """E[A] over the paths: the mean of ``max(0, max_k X_k)`` (column 0 is the 0)."""
        return float(self.x.max(axis=1).sum()) / self.paths  # type: ignore[no-any-return]

    def idle_filled(self, pmf: FloatArray) -> float:
        """E[agent-bins one more dial would fill], live in bin k with prob ``pmf[k]``.

        From its live bin ``tau`` on, a call keeps busy an agent who would otherwise
        wait, in every bin ``k >= tau`` where ``X_k <= -1`` (an agent to spare), up to
        the horizon. Exact over ``tau`` on every path, like ``marginal``: summed over
        ``tau``, bin ``k`` counts with weight ``P(tau <= k)``, the pmf's running sum.
        """
        return float(self._spare() @ np.cumsum(pmf)) / self.paths  # type: ignore[no-any-return]

    def marginal_idle(self, pmfs: FloatArray, cdfs: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``marginal`` and ``idle_filled`` for each column of ``pmfs`` (bins × n), each
        path statistic computed once (the look-ahead rule weighs a dial now against
        later). ``cdfs``: the columns' running sums (``np.cumsum(pmfs, axis=0)``), built
        once per forecast refresh rather than per evaluation."""
        marginal: FloatArray = (self._hits() @ pmfs) / self.paths
        idle: FloatArray = (self._spare() @ cdfs) / self.paths
        return marginal, idle

    def add(self, taus: IntArray) -> None:
        """Add one dial per path, live from bin ``taus[m]`` (``horizon`` = never)."""
        self.x[:, 1:] += self._ks[None, :] > taus[:, None]

    def add_many(self, taus: IntArray) -> None:
        """Add ``taus.shape[1]`` dials per path at once (``taus`` in ``0..horizon``)."""
        width = self.horizon + 1
        flat = (np.arange(self.paths) * width)[:, None] + taus
        counts = np.bincount(flat.ravel(), minlength=self.paths * width)
        self.x[:, 1:] += np.cumsum(counts.reshape(self.paths, width)[:, : self.horizon], axis=1)
