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

import numpy as np
import numpy.typing as npt

from pacing.base import FloatArray

IntArray = npt.NDArray[np.int64]


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


class PathSet:
    """``paths`` sampled trajectories of ``X_k = D_k - S_k`` for ``k < horizon``."""

    def __init__(self, x: IntArray) -> None:
        self.x = x
        self.paths, self.horizon = x.shape
        self._ks = np.arange(self.horizon)

    @classmethod
    def sample(
        cls,
        *,
        draws: IntArray,
        horizon: int,
        ready: int,
        waiting: int,
        supply: tuple[IntArray, IntArray],
        demand: tuple[IntArray, IntArray],
    ) -> PathSet:
        """Sample ``len(draws)`` paths.

        ``supply`` / ``demand``: (quantile table, row per item). Supply tables hold, per
        agent, the first bin from which it can serve a call (its free bin minus the
        deadline); demand tables the bin a call turns live; ``horizon`` means never.
        ``draws``: quantile levels, one row per path, at least as many as items.
        """
        paths = draws.shape[0]
        width = horizon + 1
        base = (np.arange(paths) * width)[:, None]
        steps = np.zeros(paths * width, dtype=np.int64)
        col = 0
        for (table, rows), sign in ((supply, -1), (demand, 1)):
            n = len(rows)
            if n == 0:
                continue
            b = table[rows[None, :], draws[:, col : col + n]]
            col += n
            counts = np.bincount((base + b).ravel(), minlength=paths * width)
            steps += counts if sign > 0 else -counts
        x = np.cumsum(steps.reshape(paths, width)[:, :horizon], axis=1)
        x += waiting - ready
        return cls(x)

    def copy(self) -> PathSet:
        return PathSet(self.x.copy())

    def slack(self) -> int:
        """How many +1 steps every path can take before any could make an abandon."""
        return max(0, -int(self.x.max()))

    def marginal(self, pmf: FloatArray) -> float:
        """E[increase of abandons] from one more dial live in bin k with prob ``pmf[k]``."""
        x = self.x
        prefix = np.maximum.accumulate(x, axis=1)
        before = np.empty_like(prefix)
        before[:, 0] = 0
        np.maximum(prefix[:, :-1], 0, out=before[:, 1:])
        suffix = np.maximum.accumulate(x[:, ::-1], axis=1)[:, ::-1]
        hit = suffix >= before
        return float((hit @ pmf).mean())

    def add(self, taus: IntArray) -> None:
        """Add one dial per path, live from bin ``taus[m]`` (``horizon`` = never)."""
        self.x += self._ks[None, :] >= taus[:, None]

    def add_many(self, taus: IntArray) -> None:
        """Add ``taus.shape[1]`` dials per path at once."""
        width = self.horizon + 1
        flat = (np.arange(self.paths) * width)[:, None] + np.minimum(taus, self.horizon)
        counts = np.bincount(flat.ravel(), minlength=self.paths * width)
        self.x += np.cumsum(counts.reshape(self.paths, width)[:, : self.horizon], axis=1)
