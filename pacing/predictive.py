"""The predictive pacer: over-dial ahead of agents freeing up, abandons held to a budget.

Model (all from what a real dialer observes; see ``pacing.estimators``):

- *Supply*: agents free to take a live call arriving at ``now + t``: those ready now,
  plus each busy agent freeing by ``t + deadline`` with the probability implied by the
  time it has already spent in its call or wrap-up (Kaplan-Meier survival, censored
  spells included; remaining talk convolved with the wrap-up distribution).
- *Demand*: live answers (detected persons) arriving by ``now + t``: persons waiting now,
  plus each call in flight turning live given how long it has rung, plus new dials.
- *Abandons*: ``max(0, max_t D(t) - S(t + deadline))`` over the horizon (see
  ``pacing.paths``), whose expectation and the exact marginal of one more dial are
  computed on sampled paths.

Decision: place the ``n``-th new call while its marginal expected abandons stay below a
*price* times the agent idle time it is expected to fill, and placing it now is worth at
least as much as placing it a few seconds later (``_accept``). This is the Lagrangian
form of "most agent time for a given abandon total". The price is adjusted online by an
integral controller on the measured abandons so that the shift's abandon rate settles at
``aim × abandon_target`` (aim < 1 leaves room for chance), with guards that cut dialling
when the shift total or the current clock hour runs hot (the hourly worst case is what a
regulator's sample sees). Each decision carries the numbers behind it (``PacingDecision.explain``).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from pacing.base import (
    DialResolved,
    FloatArray,
    LiveCallRouted,
    Observation,
    PacingDecision,
    PacingSnapshot,
    SpellEnded,
    cap_dials,
)
from pacing.estimators import DialOutcomeModel, SpellModel
from pacing.paths import IntArray, PathSet, SmallIntArray, quantile_table, stacked_table

# Agents logged in from which a decision a second is enough (see ``decide``).
LARGE_FLOOR = 200
# shift_guard = "room": the price falls in proportion when fewer than ROOM_SCALE abandons
# of room are left, once ROOM_FROM / target live answers are settled (before that one
# abandon moves the rate too much to steer by, and the smoothed rate guards it).
ROOM_SCALE, ROOM_FROM = 3.0, 2.0


class PredictivePacer:
    name = "predictive"

    def __init__(
        self,
        *,
        abandon_target: float = 0.03,
        connect_deadline: float = 2.0,
        aim: float = 0.9,
        caution: float = 0.0,
        hour_ceiling: float = 0.06,
        dt: float = 1.0,
        horizon: float = 40.0,
        refresh_every: float = 60.0,
        initial_price: float = 0.02,
        gain: float = 0.03,
        max_dials_per_tick: int = 400,
        paths: int = 128,
        quantile_levels: int = 128,
        dial_half_life: float = 600.0,
        guards: bool = True,
        seed: int = 0,
        recheck_every: float = 2.0,
        min_paths: int = 16,
        rule: str = "lookahead",
        idle_scale: float = 20.0,
        lookahead: float = 3.0,
        shift_guard: str = "room",
        hour_cap: bool = True,
    ) -> None:
        """Tunables are keyword-only; times in seconds, ratios in 0..1.

        ``rule``: what a marginal abandon is weighed against: ``"lookahead"`` (the
        default), the agent idle time the dial is expected to fill within the horizon
        (in units of ``idle_scale`` seconds) *and* the same dial ``lookahead`` seconds
        later (see ``_accept``); ``"idle"``, the idle time alone; ``"live"``, the dial's
        expected live answers (the rule before; docs/speed.md compares the three).
        ``aim``: the share of the abandon target the controller steers to. ``dt`` and
        ``horizon``: the time grid the forecast runs on. ``paths``: sampled trajectories
        per decision. ``seed``: the pacer's own random stream (same seed, same choices).
        ``shift_guard``: how the price is cut to keep the shift's abandon rate under the
        target, ``"room"`` (the default) or ``"rate"`` (see ``price``). ``hour_cap``: once
        the clock hour can take at most one more abandon, cap the calls in flight (see
        ``hour_abandons_left`` and ``decide``; on by default).
        """
        if not 0.0 < abandon_target < 1.0:
            raise ValueError("abandon_target must be a ratio in (0, 1)")
        if not 0.0 < aim <= 1.0:
            raise ValueError("aim must be in (0, 1]")
        if connect_deadline < 0 or dt <= 0 or horizon <= connect_deadline:
            raise ValueError("need connect_deadline >= 0, dt > 0 and horizon > deadline")
        if horizon / dt > 2000:
            raise ValueError("horizon / dt must be at most 2000 grid bins")
        for label, count in (
            ("paths", paths),
            ("min_paths", min_paths),
            ("quantile_levels", quantile_levels),
            ("max_dials_per_tick", max_dials_per_tick),
        ):
            if count < 1:
                raise ValueError(f"{label} must be a positive whole number")
        if not 0.0 < initial_price <= 0.5:
            raise ValueError("initial_price must be in (0, 0.5]: a marginal abandon per live")
        for label, value in (
            ("gain", gain),
            ("caution", caution),
            ("refresh_every", refresh_every),
            ("recheck_every", recheck_every),
            ("dial_half_life", dial_half_life),
        ):
            if not value >= 0.0 or not math.isfinite(value):
                raise ValueError(f"{label} must be a finite number >= 0")
        if rule not in ("live", "idle", "lookahead"):
            raise ValueError(f"rule must be 'live', 'idle' or 'lookahead', not {rule!r}")
        if not idle_scale > 0.0 or not math.isfinite(idle_scale):
            raise ValueError("idle_scale must be a finite number of seconds > 0")
        if not dt <= lookahead < horizon:
            raise ValueError("lookahead must be at least dt and less than the horizon (seconds)")
        if shift_guard not in ("rate", "room"):
            raise ValueError(f"shift_guard must be 'rate' or 'room', not {shift_guard!r}")
        if not 0.0 < hour_ceiling <= 1.0:
            raise ValueError("hour_ceiling must be a ratio in (0, 1]")
        self.abandon_target = abandon_target
        self.rule = rule
        self.shift_guard = shift_guard
        self.hour_cap = bool(hour_cap)
        self.idle_scale = idle_scale
        self.lookahead_bins = max(1, round(lookahead / dt))
        # The model's own expected abandons for the dials it placed (the sum of each
        # decision's E[A] increase), against ``abandoned``: its calibration.
        self.expected_abandons = 0.0
        self.deadline = connect_deadline
        self.aim = aim
        self.caution = caution
        self.hour_ceiling = hour_ceiling
        self.dt = dt
        self.k = round(horizon / dt)
        self.d_bins = round(connect_deadline / dt)
        self.refresh_every = refresh_every
        self.gain = gain
        self.guards = guards
        self.max_dials = max_dials_per_tick
        self.paths = paths
        self.min_paths = min(min_paths, paths)
        self._m = paths  # paths used by the current decision (fewer for large floors)
        self._last_full = -math.inf
        self._interval = 0.0
        self._refreshed_obs = 0
        self._binding = False
        # Engine time -> local wall-clock seconds (for clock hours), set by each decision.
        self._wall_offset = 0.0
        self._hour, self._hour_live, self._hour_ab = -1, 0, 0
        self._first_seen: float | None = None
        self.levels = quantile_levels
        self._byte_levels = quantile_levels <= 256 and quantile_levels & (quantile_levels - 1) == 0
        self.rng = np.random.default_rng(seed)
        self.dials_model = DialOutcomeModel(dt=dt, max_age=horizon + 60.0, half_life=dial_half_life)
        self.talk = SpellModel(dt=dt, max_duration=1800.0, prior_mean=240.0)
        self.wrap = SpellModel(dt=dt, max_duration=600.0, prior_mean=40.0)
        self.log_price = math.log(initial_price)
        self.settled = 0
        self.abandoned = 0
        self._recent: deque[tuple[float, bool]] = deque()  # (at, abandoned), last hour
        self._recent_ab = 0
        self._refreshed_at = -math.inf
        self._talk_step = 2  # talk rows every 2 bins: remaining talk changes slowly
        empty_f: FloatArray = np.zeros((1, 1))
        empty_i: IntArray = np.zeros((1, 1), dtype=np.int64)
        self._live_cdf, self._talk_cdf, self._wrap_cdf = empty_f, empty_f, empty_f
        self._live_q, self._talk_q, self._wrap_q = empty_i, empty_i, empty_i
        self._new_pmf: FloatArray = np.zeros(1)
        # The look-ahead's two live-time pmfs (now, ``lookahead`` later) as columns, and
        # their running sums (``PathSet.marginal_idle``); rebuilt with the tables.
        self._pair: FloatArray = np.zeros((1, 2))
        self._pair_cdf: FloatArray = np.zeros((1, 2))
        self._supply_q, self._live_q_h = empty_i, empty_i
        self._table: SmallIntArray = np.zeros((1, 1), dtype=np.int8)
        self._wrap_offset = self._demand_offset = 0
        self._pool: IntArray = np.zeros(0, dtype=np.int64)
        self._pool_at = 0
        # A "no dial" answer stands until the discrete state changes or ``recheck_every``
        # seconds pass (ages drift slowly against a ~10 s ring): saves most decisions.
        self.recheck_every = recheck_every
        self._idle_key: tuple[int, ...] = ()
        self._idle_until = -math.inf

    # ------------------------------------------------------------------ learning

    def observe(self, obs: Observation) -> None:
        if isinstance(obs, DialResolved):
            if not obs.reserved:
                self.dials_model.observe(age=obs.at - obs.placed_at, live=obs.live, now=obs.at)
        elif isinstance(obs, SpellEnded):
            (self.talk if obs.kind == "talk" else self.wrap).observe(obs.duration)
        elif isinstance(obs, LiveCallRouted):
            if obs.reserved or obs.lost:
                return
            self.settled += 1
            self.abandoned += obs.abandoned
            self._recent.append((obs.at, obs.abandoned))
            self._recent_ab += obs.abandoned
            self._hour_seconds_left(obs.at)
            self._hour_live += 1
            self._hour_ab += obs.abandoned
            # Integral control of the abandon price: each connect raises it a little,
            # each abandon lowers it (1-aim)/aim times as much, so it rests where
            # abandons / live answers = aim * target.
            a = self.setpoint()
            # Robbins-Monro steps: large while the price level is unknown, shrinking as
            # evidence accumulates so the price settles instead of swinging (a swinging
            # price wastes budget: occupancy is concave in the price).
            step = self.gain / math.sqrt(1.0 + self.settled / 100.0)
            if obs.abandoned:
                self.log_price += step * (a - 1.0) / a
            elif self._binding:
                # Anti-windup: a connect is evidence that the price is too low only when
                # the price was what held dialling back. Connects while idle agents were
                # absorbing everything (a shift's first minute) say nothing about it.
                self.log_price += step
            self.log_price = min(max(self.log_price, math.log(1e-3)), math.log(0.5))

    def _refresh(self, snap: PacingSnapshot) -> None:
        """Rebuild the forecast tables from the estimators (every ``refresh_every`` s)."""
        k, d = self.k, self.d_bins
        span = k + d
        # [age bin, j]: P(live by (j+1)·dt | unresolved at that age)
        live = self.dials_model.table(k, snap.pending_ages)
        self._live_cdf = live
        self._live_q = quantile_table(live, self.levels)
        self._new_pmf = np.diff(np.concatenate(([0.0], live[0])))
        self._set_pair()
        # Wrap-up: P(free by (j+1)·dt | elapsed e) = 1 - S(e + j + 1) / S(e).
        ws = self.wrap.survival(snap.wrapup_elapsed)
        e = np.arange(self.wrap.n)
        ends = np.minimum(e[:, None] + np.arange(1, span + 1)[None, :], len(ws) - 1)
        self._wrap_cdf = np.clip(1.0 - ws[ends] / np.maximum(ws[e], 1e-12)[:, None], 0, 1)
        self._wrap_q = quantile_table(self._wrap_cdf, self.levels)
        # Talk: remaining-talk pmf for elapsed row e over the next ``span`` bins,
        # convolved with the wrap-up CDF: P(free by (j+1)·dt | talk elapsed e).
        ts = self.talk.survival(snap.talk_elapsed)
        rows = np.arange(0, self.talk.n - span, self._talk_step)
        pmf_all = ts[:-1] - ts[1:]
        idx = rows[:, None] + np.arange(span)[None, :]
        pmf = pmf_all[idx] / np.maximum(ts[rows], 1e-12)[:, None]
        wrap_cdf0 = 1.0 - ws[: span + 1]
        toe = np.zeros((span, span))
        for u in range(span):
            toe[u, u:] = wrap_cdf0[: span - u]
        # einsum, not ``@``: a threaded BLAS on a busy 2-core box took 30 ms for this.
        self._talk_cdf = np.clip(np.einsum("ij,jk->ik", pmf, toe, optimize=False), 0.0, 1.0)
        self._talk_q = quantile_table(self._talk_cdf, self.levels)
        # One supply table: talk rows then wrap rows, each agent's free bin minus the
        # deadline (a call arriving up to ``d`` bins before an agent frees can wait).
        self._supply_q = np.clip(np.vstack((self._talk_q, self._wrap_q)) - d, 0, k)
        self._wrap_offset = len(self._talk_q)
        self._live_q_h = np.minimum(self._live_q, k)
        self._table = stacked_table(self._supply_q, self._live_q_h, k)
        self._demand_offset = len(self._supply_q)
        self._refreshed_at = snap.now
        self._refreshed_obs = self.dials_model.observed + self.talk.completed

    # ------------------------------------------------------------------ deciding

    def next_decision_at(self) -> float:
        """A large floor decides at most every ``_interval`` seconds (see ``decide``)."""
        return self._last_full + self._interval

    def setpoint(self) -> float:
        """The abandon rate the controller steers to now, per live answer.

        ``aim × target`` less ``caution`` binomial standard deviations of the shift's
        measured rate: early in a shift a few unlucky abandons move the rate a lot, so
        the controller keeps a wide margin; as live answers accumulate the margin shrinks
        and the shift total converges to the target from below.
        """
        t = self.abandon_target
        sd = math.sqrt(t * (1.0 - t) / (self.settled + 50))
        return max(0.25 * t, self.aim * t - self.caution * sd)

    def _draw(self, per_path: int) -> IntArray:
        """``m × per_path`` quantile levels from a pre-drawn pool (cheap slices)."""
        need = self._m * max(per_path, 1)
        if self._pool_at + need > len(self._pool):
            size = max(1 << 18, 4 * need)
            if self._byte_levels:
                # Each byte of the generator's raw 64-bit output, masked to a power-of-two
                # level count, is an exactly uniform level: ~5x cheaper than
                # ``integers``, which spends a whole 64-bit draw on each level (the draws
                # were a tenth of a large floor's decision time). Little-endian bytes so
                # the stream does not depend on the machine.
                raw = self.rng.bit_generator.random_raw((size + 7) // 8)
                levels = raw.astype("<u8", copy=False).view(np.uint8)[:size]
                self._pool = (levels & (self.levels - 1)).astype(np.int64)
            else:
                self._pool = self.rng.integers(0, self.levels, size)
            self._pool_at = 0
        out = self._pool[self._pool_at : self._pool_at + need]
        self._pool_at += need
        return out

    def price(self, now: float) -> tuple[float, str]:
        """The current abandon price and the guard that shaped it."""
        while self._recent and self._recent[0][0] < now - 3600.0:
            _, ab = self._recent.popleft()
            self._recent_ab -= ab
        price = math.exp(self.log_price)
        a = self.setpoint()
        # Shift total: a Bayesian-smoothed rate (20 pseudo-answers at the aim).
        shift = (self.abandoned + 20 * a) / (self.settled + 20)
        guard = "none"
        if not self.guards:
            return price, guard
        if self.shift_guard == "room" and self.settled >= ROOM_FROM / self.abandon_target:
            # "room": the abandons the shift can still take and stay under the target.
            # The price falls in proportion as the room shrinks below ROOM_SCALE (a
            # proportional term on the count, next to the integral term on the rate), so
            # a late run of bad luck is answered at once and smoothly, not by a cut that
            # switches off as soon as the rate dips under the target and lets the
            # integrator's wound-up price through (docs/speed.md, "The abandon promise").
            room = self.abandon_target * self.settled - self.abandoned
            factor = min(1.0, max(0.1, room / ROOM_SCALE))
            if factor < 1.0:
                price *= factor
                guard = "shift"
        elif shift > self.abandon_target:
            # "rate" (and "room" early in a shift): over the ceiling, cut hard. The
            # controller steers to aim × target (0.9: 0.3 points below, where it holds a
            # small team's shift rate within about 0.2), so this fires on a bad run only;
            # the guard that fired already at the aim was on for a third of a small
            # team's decisions and cost it occupancy (docs/speed.md).
            price *= 0.25
            guard = "shift"
        # Each clock hour is judged on its own (max_hourly_abandon_rate; a regulator's
        # sample). Project this hour's live answers (so far, plus the last hour's pace for
        # the minutes left) and keep its abandons under 90% of the hourly ceiling: with
        # less than one abandon left to spend, dial only where abandons are all but
        # impossible; with less than two, halve the price.
        left_s = self._hour_seconds_left(now)
        projected = self._hour_live + len(self._recent) * left_s / 3600.0
        spare = 0.9 * self.hour_ceiling * max(projected, 20.0) - self._hour_ab
        if spare < 1.0:
            price *= 0.1
            guard = "hour"
        elif spare < 2.0:
            price *= 0.5
            guard = "hour"
        return price, guard

    def _hour_seconds_left(self, now: float) -> float:
        """Seconds to the end of ``now``'s local clock hour; its counts restart with it."""
        hour = math.floor((now + self._wall_offset) / 3600.0)
        if hour != self._hour:
            self._hour, self._hour_live, self._hour_ab = hour, 0, 0
        return 3600.0 * (hour + 1) - (now + self._wall_offset)

    def hour_abandons_left(self, now: float) -> int:
        """Abandons the current clock hour can still take and end within ``hour_ceiling``.

        Its live answers are projected as those so far plus the pace of the last hour
        (of the time seen, early in a shift: the first hour's projection would otherwise
        be its count so far) for the minutes left.
        """
        if self._first_seen is None:
            self._first_seen = now
        left_s = self._hour_seconds_left(now)
        span = min(3600.0, max(600.0, now - self._first_seen))
        projected = self._hour_live + len(self._recent) * left_s / span
        return math.floor(self.hour_ceiling * max(projected, 20.0) + 1e-9) - self._hour_ab

    def _accept(self, paths: PathSet, price: float) -> tuple[float, bool]:
        """One more dial on ``paths``: its marginal expected abandons, and whether to place it.

        ``live``: the marginal within ``price`` times the dial's expected live answers.
        ``idle``: within ``price`` times the agent idle time it fills (``idle_scale`` s).
        ``lookahead``: the dial's net value (``price`` × idle filled / ``idle_scale`` -
        marginal) is at least 0 *and* at least that of the same dial ``lookahead`` s
        later. The pacer re-decides every fraction of a second, so the choice is never
        "dial or never" but "dial now or a little later" (a one-step look-ahead, the
        textbook rule for optimal stopping): a dial placed while no agent is about to
        free carries abandon risk that waiting sheds, for nearly the same idle time
        filled. Waiting gains nothing where an agent sits idle now, so such a dial goes
        at once. Measured in docs/speed.md ("The look-ahead rule").
        """
        pmf = self._new_pmf
        if self.rule == "live":
            marginal = paths.marginal(pmf)
            return marginal, marginal <= price * float(self._live_cdf[0, -1])
        if self.rule == "idle":
            marginal = paths.marginal(pmf)
            return marginal, marginal <= price * paths.idle_filled(pmf) / self.idle_scale
        m, i = paths.marginal_idle(self._pair, self._pair_cdf)
        now_net = price * float(i[0]) / self.idle_scale - float(m[0])
        later_net = price * float(i[1]) / self.idle_scale - float(m[1])
        return float(m[0]), now_net >= 0.0 and now_net >= later_net

    def _set_pair(self) -> None:
        """The new dial's live-time pmf and the same shifted ``lookahead`` later."""
        pmf, w = self._new_pmf, self.lookahead_bins
        later = np.concatenate((np.zeros(w), pmf[:-w]))
        self._pair = np.ascontiguousarray(np.stack((pmf, later), axis=1))
        self._pair_cdf = np.cumsum(self._pair, axis=0)

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        snap = snapshot
        offset = snap.wall.utcoffset()
        self._wall_offset = (
            snap.wall.timestamp() + (offset.total_seconds() if offset else 0.0) - snap.now
        )
        if snap.leads_exhausted or snap.lines_free <= 0:
            return PacingDecision(0, explain={"reason": "no leads or lines"})
        ready = snap.ready
        n_talk, n_wrap = len(snap.talk_elapsed), len(snap.wrapup_elapsed)
        if ready + n_talk + n_wrap == 0:
            return PacingDecision(0, explain={"reason": "no agents"})
        key = (ready, n_talk, n_wrap, len(snap.pending_ages), snap.waiting, snap.lines_free)
        if key == self._idle_key and snap.now < self._idle_until:
            return PacingDecision(0, explain={"reason": "unchanged since the last decision"})
        # Cost grows with paths × items (agents and calls in flight). On a large floor
        # each decision places many calls and the sum of many independent items is
        # smooth, so fewer paths and a decision every ~second lose little; a small team
        # keeps every path and every tick, where single calls matter.
        # From ``LARGE_FLOOR`` agents on, at most one decision a second: the 250-agent
        # shift ran 14-18% faster for 0.02 points of occupancy. By agents, not items: a
        # steeper ramp in items also reached large-100's busy minutes and cost it 0.4
        # points on its default seed (docs/speed.md, "Stop 11").
        n_items = n_talk + n_wrap + len(snap.pending_ages)
        if snap.logged_in >= LARGE_FLOOR:
            self._interval = 1.0
        else:
            self._interval = min(1.0, max(0.0, (n_items - 100) / 500))
        if snap.now < self.next_decision_at():
            return PacingDecision(0, explain={"reason": "large floor: decided recently"})
        self._last_full = snap.now
        self._m = max(self.min_paths, min(self.paths, (self.paths * 60) // max(n_items, 1)))
        evidence = self.dials_model.observed + self.talk.completed
        if (
            snap.now - self._refreshed_at >= self.refresh_every
            or evidence >= 2 * self._refreshed_obs + 20  # early in a shift: learn fast
        ):
            self._refresh(snap)
        k, dt = self.k, self.dt
        g_end = float(self._live_cdf[0, -1])
        if g_end <= 1e-6:
            return PacingDecision(0, explain={"reason": "no live answers expected"})
        talk_rows = np.minimum(
            (snap.talk_elapsed / dt).astype(np.int64) // self._talk_step, len(self._talk_q) - 1
        )
        wrap_rows = np.minimum((snap.wrapup_elapsed / dt).astype(np.int64), len(self._wrap_q) - 1)
        age_rows = np.minimum((snap.pending_ages / dt).astype(np.int64), len(self._live_q) - 1)
        m = self._m
        rows = np.concatenate(
            (talk_rows, wrap_rows + self._wrap_offset, age_rows + self._demand_offset)
        )
        paths = PathSet.sample(
            draws=self._draw(n_items).reshape(m, max(n_items, 1))[:, :n_items],
            horizon=k,
            ready=ready,
            waiting=snap.waiting,
            table=self._table,
            rows=rows,
        )
        price, guard = self.price(snap.now)
        limit = min(self.max_dials, snap.lines_free)
        new_q = self._live_q_h[0]
        n, marginal = 0, 0.0
        # E[A] before this decision's dials, for ``expected_abandons``: 0 when the first
        # dials go through the slack branch (every path has X <= -1), else computed once
        # the first dial is accepted (most decisions place none).
        a_before = 0.0
        self._binding = False
        batch = 1
        while n < limit:
            slack = paths.slack()
            if slack >= 1:
                # No path can reach an abandon with fewer than ``slack`` more live answers.
                take = min(slack, limit - n)
                paths.add_many(new_q[self._draw(take).reshape(m, take)])
                n += take
                continue
            marginal, ok = self._accept(paths, price)
            if not ok:
                self._binding = True
                break
            if n == 0:
                a_before = paths.expected_abandons()
            # Gallop: marginals only grow as calls are added (and the idle time a call
            # would fill only shrinks), so a batch of ``batch`` calls is acceptable iff
            # its last call is within budget. For ``lookahead`` that holds for its first
            # test only; its "not better later" test need not be monotone, and checking
            # the batch's last call is accepted as an approximation. Doubling batches cut
            # the evaluations to about log2 of the calls placed.
            batch = min(2 * batch, limit - n)
            if batch > 1:
                trial = paths.copy()
                trial.add_many(new_q[self._draw(batch - 1).reshape(m, batch - 1)])
                last, ok = self._accept(trial, price)
                if ok:
                    trial.add(new_q[self._draw(1)])
                    paths, n, marginal = trial, n + batch, last
                    continue
                batch = 1
            paths.add(new_q[self._draw(1)])
            n += 1
        dials = cap_dials(n, snap)
        left = self.hour_abandons_left(snap.now) if self.hour_cap else None
        if left is not None and left <= 1:
            # ``hour_cap``: the hour guard's price cut still let a burst of live answers
            # through (small-team-5, seed 1: three abandons in 8 s, from 5 calls in flight
            # for 2 ready agents, with one abandon left). With one abandon left, at most
            # ready + 2 calls in flight or waiting; with none, no more than ready agents,
            # so no new call can be abandoned. Small-team-5, seeds 1-96: hours over 6%
            # 1 (6.02%) against about 1 in 32 shifts (docs/speed.md, "The hour cap").
            extra = 2 if left == 1 else 0
            dials = min(dials, max(0, ready + extra - len(snap.pending_ages) - snap.waiting))
        if dials == 0:
            # Ages drift; re-decide soon on a small floor, where one call in the wrong
            # second is an agent's idle time (small-team-5: +1 point of occupancy at
            # 0.25 s against 2 s), and less often where items are many.
            recheck = min(self.recheck_every, 0.25 + n_items / 200.0)
            self._idle_key, self._idle_until = key, snap.now + recheck
        else:
            self._idle_key = ()
            self.expected_abandons += max(0.0, paths.expected_abandons() - a_before)
        free_h = ready + float(self._talk_cdf[talk_rows, -1].sum())
        free_h += float(self._wrap_cdf[wrap_rows, -1].sum())
        live_h = snap.waiting + float(self._live_cdf[age_rows, -1].sum())
        return PacingDecision(
            dials,
            explain={
                "ready": ready,
                "talking": n_talk,
                "wrapup": n_wrap,
                "in_flight": len(snap.pending_ages),
                "waiting": snap.waiting,
                "p_live": g_end,
                "expected_free_in_horizon": free_h,
                "expected_live_in_horizon": live_h,
                "marginal_abandon_per_live": marginal / g_end,
                "price": price,
                "guard": guard,
                "hour_abandons_left": "off" if left is None else left,
                "shift_abandon_rate": self.abandoned / self.settled if self.settled else 0.0,
                "shift_abandons": self.abandoned,
                "model_expected_abandons": self.expected_abandons,
                "dials": dials,
            },
        )
