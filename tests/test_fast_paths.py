"""The speed-ups of the predictive pacer's sampler and of the virtual-time loop against
slow, obvious versions of the same thing (pacing/paths.py, simulator/loop.py)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from pacing.base import FloatArray
from pacing.paths import IntArray, PathSet, quantile_table, stacked_table
from simulator.loop import VirtualTimeLoop

HORIZON = 12


def _abandons(x: IntArray) -> IntArray:
    """A = max(0, max_k X_k) per path (pacing/paths.py docstring)."""
    out: IntArray = np.maximum(x.max(axis=1), 0)
    return out


def _random_paths(seed: int, paths: int = 20) -> tuple[IntArray, FloatArray]:
    """Random-walk paths (with the leading zero column) and a live-bin pmf."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-1, 2, size=(paths, HORIZON))
    x = np.zeros((paths, HORIZON + 1), dtype=np.int64)
    x[:, 1:] = np.cumsum(steps, axis=1) + rng.integers(-3, 2, size=(paths, 1))
    pmf: FloatArray = rng.random(HORIZON)
    pmf *= 0.7 / pmf.sum()  # 30% never live within the horizon
    return x, pmf


@pytest.mark.parametrize("seed", range(5))
def test_marginal_is_the_expected_rise_of_abandons_of_one_more_dial(seed: int) -> None:
    x, pmf = _random_paths(seed)
    brute = 0.0
    for tau in range(HORIZON):
        after = x[:, 1:] + (np.arange(HORIZON) >= tau)
        brute += pmf[tau] * float((_abandons(after) - _abandons(x[:, 1:])).mean())
    assert PathSet(x).marginal(pmf) == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_hits_from_the_last_maximum_equal_the_two_running_maxima(seed: int) -> None:
    # Small steps and offsets make ties between maxima (and with the leading 0) common.
    rng = np.random.default_rng(seed)
    for _ in range(200):
        paths, horizon = int(rng.integers(1, 30)), int(rng.integers(1, 45))
        x = np.zeros((paths, horizon + 1), dtype=np.int64)
        steps = rng.integers(-1, 2, size=(paths, horizon))
        x[:, 1:] = np.cumsum(steps, axis=1) + rng.integers(-4, 2, size=(paths, 1))
        before = np.maximum.accumulate(x[:, :-1], axis=1)  # max(0, X_j for j < k)
        after = np.maximum.accumulate(x[:, :0:-1], axis=1)[:, ::-1]  # max X_j, j >= k
        assert PathSet(x)._hits().tolist() == (after >= before).sum(axis=0).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_expected_abandons_and_idle_filled_against_brute_force(seed: int) -> None:
    x, pmf = _random_paths(seed)
    paths = x.shape[0]
    ps = PathSet(x)
    assert ps.expected_abandons() == pytest.approx(float(_abandons(x[:, 1:]).mean()))
    # A call live in bin tau fills every later bin that had an agent to spare (X <= -1).
    brute = 0.0
    for p in range(paths):
        for tau in range(HORIZON):
            spare = sum(1 for k in range(tau, HORIZON) if x[p, k + 1] <= -1)
            brute += pmf[tau] * spare / paths
    assert ps.idle_filled(pmf) == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_marginal_idle_is_both_measures_for_each_pmf_at_once(seed: int) -> None:
    x, pmf = _random_paths(seed)
    later = np.concatenate((np.zeros(2), pmf[:-2]))  # the same dial two bins later
    ps = PathSet(x)
    pmfs = np.stack((pmf, later), axis=1)
    marginal, idle = ps.marginal_idle(pmfs, np.cumsum(pmfs, axis=0))
    for column, one in enumerate((pmf, later)):
        assert marginal[column] == pytest.approx(ps.marginal(one), abs=1e-12)
        assert idle[column] == pytest.approx(ps.idle_filled(one), abs=1e-12)


def test_sample_counts_each_item_once_on_its_own_row() -> None:
    rng = np.random.default_rng(3)
    levels, paths = 16, 7
    cdf_supply = np.sort(rng.random((5, HORIZON)), axis=1)
    cdf_demand = np.sort(rng.random((4, HORIZON)), axis=1) * 0.6
    supply = quantile_table(cdf_supply, levels)
    demand = quantile_table(cdf_demand, levels)
    table = stacked_table(supply, demand, HORIZON)
    assert table.dtype == np.int8
    rows = np.array([0, 4, 4, 2, 5 + 1, 5 + 3, 5 + 0])  # four agents, three calls
    draws = rng.integers(0, levels, size=(paths, len(rows)))
    ready, waiting = 2, 1
    got = PathSet.sample(
        draws=draws, horizon=HORIZON, ready=ready, waiting=waiting, table=table, rows=rows
    )
    want = np.full((paths, HORIZON), waiting - ready, dtype=np.int64)
    for p in range(paths):
        for i, row in enumerate(rows):
            if row < 5:  # an agent: -1 from the bin it can serve
                want[p, supply[row, draws[p, i]] :] -= 1
            else:  # a call: +1 from the bin it turns live
                want[p, demand[row - 5, draws[p, i]] :] += 1
    assert np.array_equal(got.x[:, 1:], want)
    assert np.array_equal(got.x[:, 0], np.zeros(paths, dtype=np.int64))


def test_add_and_add_many_agree() -> None:
    rng = np.random.default_rng(9)
    x = np.zeros((6, HORIZON + 1), dtype=np.int64)
    one, many = PathSet(x.copy()), PathSet(x.copy())
    taus = rng.integers(0, HORIZON + 1, size=(6, 3))  # HORIZON: never
    for j in range(3):
        one.add(taus[:, j])
    many.add_many(taus)
    assert np.array_equal(one.x, many.x)
    assert one.slack() == 0


def test_timers_due_at_the_same_instant_run_in_creation_order() -> None:
    loop = VirtualTimeLoop()
    seen: list[str] = []
    try:
        for name in "abcdefghij":
            loop.call_at(5.0, seen.append, name)
        loop.call_at(1.0, seen.append, "first")
        cancelled = loop.call_at(5.0, seen.append, "never")
        cancelled.cancel()
        loop.run_until_complete(asyncio.sleep(10.0))
    finally:
        loop.close()
    assert seen == ["first", *"abcdefghij"]


def test_many_cancelled_timers_are_dropped_and_time_still_jumps() -> None:
    loop = VirtualTimeLoop()
    fired: list[float] = []
    try:
        handles = [loop.call_at(100.0 + i, fired.append, i) for i in range(300)]
        for h in handles[:250]:
            h.cancel()  # more than half: the heap is compacted on the next iteration
        loop.run_until_complete(asyncio.sleep(1000.0))
        assert loop.time() == 1000.0
    finally:
        loop.close()
    assert fired == list(range(250, 300))
