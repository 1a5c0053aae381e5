"""VICIdial's adaptive pacing (dial method ``ADAPT_TAPERED``), re-implemented as a pure pacer.

Sources: VICIdial 2.4, ``bin/AST_VDauto_dial.pl`` (places the calls) and
``bin/AST_VDadapt.pl`` (adjusts ``auto_dial_level``, the dial level DL), AGPLv2, by
Matt Florell. Only the published algorithm is reproduced here, not the code. In VICIdial
the two scripts are separate processes sharing the campaign row in MySQL; here both loops
run inside ``decide`` on the engine's clock, each on its own cadence:

- every 2.5 s (``AST_VDauto_dial.pl``, ``loop_delay = 2500`` ms) calls are placed:
  ``goal = round(DL x agents)``, where agents are those READY, QUEUE or INCALL (here:
  ready + reserved + talking; agents in after-call work, VICIdial's PAUSED/dispo, do not
  count), and ``make = goal - calls already up`` (VICIdial's ``vicidial_auto_calls`` in
  SENT, RINGING, LIVE, XFER or CLOSER: here pending + waiting + connected). Between two
  placement instants ``decide`` answers 0.
- every 1 s (``AST_VDadapt.pl`` loop, ``count_agents_lines``) it samples the ready
  agents, the calls waiting for an agent and the logged-in agents, and keeps the last
  15 samples (``stat_it = 15``).
- every 15 s (``diff_ratio_updater >= 15``, ``calculate_dial_level``):
  ``diff = mean(ready) - mean(waiting)`` and ``DL <- DL x (1 + diff / mean(logged_in))``,
  rounded to 3 decimals (``sprintf("%.3f")``) and clamped to [1, max level]. A positive
  diff means agents sat idle, so dial harder; a negative one means people queued.
- every 60 s (``drop_count_updater >= 60``, ``calculate_drops`` and the "DROP PERCENTAGE
  RULES" of ``calculate_dial_level``): more than 20 calls in the last minute with more
  than 50% of them dropped halves DL; more than 50 calls today with drops above the
  target share of human answers tapers DL by ``min(1, (2100 - HHMM) / 1000)`` in HHMM
  arithmetic (DL = 1 from 21:00 on), so a campaign over its abandon budget slows down
  harder the closer it is to the end of the calling day.

One simplification: in AST_VDadapt.pl the drop figures are refreshed every 60 s but the
drop rules run inside every 15 s ``calculate_dial_level``, so while the stale figures
stay over the limit the halving or taper is applied up to four times a minute. Here the
rules run once per refresh (right after that tick's differential update), so one bad
minute halves DL once, not up to sixteenfold.

"Today" here is the life of the pacer (one shift). The taper reads ``snapshot.wall``
(the campaign's local clock); everything else reads ``snapshot.now``.

Invariants: DL stays in [1, max level]; a decision is never negative, never above the
free lines, and zero once the leads are exhausted (``cap_dials``).
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime

from pacing.base import (
    DialResolved,
    LiveCallRouted,
    Observation,
    PacingDecision,
    PacingSnapshot,
    cap_dials,
)

# AST_VDauto_dial.pl: "delay of XXX seconds per loop, default 2.5 seconds".
PLACE_PERIOD = 2.5
# AST_VDadapt.pl runs its loop every second (--delay default 1) and samples each time.
SAMPLE_PERIOD = 1.0
# stat_it = 15: the moving averages cover the last 15 one-second samples.
SAMPLES_KEPT = 15
# calculate_dial_level runs when diff_ratio_updater reaches 15 (loops of 1 s).
ADAPT_PERIOD = 15.0
# calculate_drops runs when drop_count_updater reaches 60.
DROPS_PERIOD = 60.0
# The "one minute" drop statistics: call_date > now - 60 s.
MINUTE = 60.0
# "DROP RATE OVER 50% FOR LAST MINUTE": VCScalls_one > 20 and VCSdrops_one_pct > 50.
MINUTE_MIN_CALLS = 20
MINUTE_MAX_DROP_SHARE = 0.5
# The daily rule needs VCScalls_today > 50 before it trusts the drop percentage.
TODAY_MIN_CALLS = 50
# ADAPT_TAPERED: tapered_rate = (latest HHMM - now HHMM) / 1000, capped at 1.
TAPER_SPAN_HHMM = 1000

# Slack for comparing engine times to a cadence instant built by float arithmetic.
_TIME_SLACK = 1e-9


def hhmm(wall: datetime) -> int:
    """The wall clock as VICIdial's ``current_hourmin``: hour * 100 + minute (15:30 -> 1530)."""
    return wall.hour * 100 + wall.minute


def taper_rate(now_hhmm: int, latest_hhmm: int = 2100) -> float:
    """ADAPT_TAPERED's factor on DL, in 0..1 (negative once ``latest_hhmm`` has passed).

    Computed in HHMM arithmetic as VICIdial does, so 15:30 gives (2100 - 1530) / 1000 =
    0.57; the rate is not linear in minutes (20:00 -> 0.1, 19:59 -> 0.141), and that is
    faithful to the original.
    """
    left = latest_hhmm - now_hhmm
    return min(1.0, left / TAPER_SPAN_HHMM)


class _Cadence:
    """A grid of instants ``origin + k * period``; fires at the first ``now`` at or after
    the next instant. Missed instants are skipped, not caught up (VICIdial's loops sleep a
    fixed delay and never run twice to make up for a slow one)."""

    __slots__ = ("_k", "_origin", "_period")

    def __init__(self, period: float, origin: float, first_k: int) -> None:
        self._period = period
        self._origin = origin
        self._k = first_k

    @property
    def next_at(self) -> float:
        return self._origin + self._k * self._period

    def due(self, now: float) -> bool:
        return now >= self.next_at - _TIME_SLACK

    def advance(self, now: float) -> None:
        """Move to the first instant strictly after ``now``."""
        self._k = math.floor((now - self._origin) / self._period + _TIME_SLACK) + 1


class _Schedule:
    """The four loops' cadences, anchored at the first decision (the start of the shift).

    Placement and sampling run at once; the first DL update comes 15 s later and the
    first drop check 60 s later, as in AST_VDadapt.pl, whose updaters count loops from
    the script's start.
    """

    __slots__ = ("adapt", "drops", "place", "sample")

    def __init__(self, start: float) -> None:
        self.place = _Cadence(PLACE_PERIOD, start, 0)
        self.sample = _Cadence(SAMPLE_PERIOD, start, 0)
        self.adapt = _Cadence(ADAPT_PERIOD, start, 1)
        self.drops = _Cadence(DROPS_PERIOD, start, 1)


class VicidialAdaptivePacer:
    """VICIdial ``ADAPT_TAPERED``: a dial level adapted from idle agents and queued calls.

    ``initial_dial_level``: DL at the start of the shift (VICIdial's ``auto_dial_level``;
    an ADAPT_TAPERED campaign starts at 1.0). ``max_dial_level``: the cap on DL
    (``adaptive_maximum_level``, default 3.0). ``latest_server_time``: the HHMM at which
    the taper reaches zero (``adaptive_latest_server_time``, default 2100). The drop
    target is ``snapshot.abandon_target`` (VICIdial's ``adaptive_dropped_percentage``, as
    a ratio in 0..1), compared with drops / human answers today.
    """

    name: str = "vicidial-adaptive"

    def __init__(
        self,
        *,
        initial_dial_level: float = 1.0,
        max_dial_level: float = 3.0,
        latest_server_time: int = 2100,
    ) -> None:
        if not math.isfinite(max_dial_level) or max_dial_level < 1.0:
            raise ValueError(f"max_dial_level must be finite and >= 1, got {max_dial_level!r}")
        if not math.isfinite(initial_dial_level) or not (
            1.0 <= initial_dial_level <= max_dial_level
        ):
            raise ValueError(
                f"initial_dial_level must be within [1, max_dial_level={max_dial_level}], "
                f"got {initial_dial_level!r}"
            )
        if not (0 <= latest_server_time <= 2400 and latest_server_time % 100 < 60):
            raise ValueError(
                f"latest_server_time must be an HHMM time of day, got {latest_server_time!r}"
            )
        self.max_dial_level = max_dial_level
        self.latest_server_time = latest_server_time
        self.dial_level = initial_dial_level
        self.last_diff = 0.0
        # (ready, waiting, logged_in), one per second, newest last.
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=SAMPLES_KEPT)
        # (placed at, how many) and abandon instants, pruned to the last minute.
        self._calls_minute: deque[tuple[float, int]] = deque()
        self._drops_minute: deque[float] = deque()
        self.calls_today = 0
        self.drops_today = 0
        self.answers_today = 0
        self._schedule: _Schedule | None = None

    def observe(self, obs: Observation) -> None:
        if isinstance(obs, DialResolved):
            # VICIdial's "answers" are calls whose status is human_answered='Y'; a dial
            # detected as a person is exactly that, whether it is then bridged or dropped.
            if obs.live:
                self.answers_today += 1
        elif isinstance(obs, LiveCallRouted) and obs.abandoned:
            # DROP / XDROP: a person no agent reached within the deadline. A person who
            # hung up first (``lost``) is not a drop.
            self.drops_today += 1
            self._drops_minute.append(obs.at)

    def next_decision_at(self) -> float:
        return -math.inf

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        now = snapshot.now
        if self._schedule is None:
            self._schedule = _Schedule(now)
        schedule = self._schedule
        self._prune(now)

        if schedule.sample.due(now):
            self._samples.append((snapshot.ready, snapshot.waiting, snapshot.logged_in))
            schedule.sample.advance(now)

        # AST_VDadapt.pl leaves the dial level alone while the hopper is empty and while no
        # agent is logged in; the updaters keep counting, so a postponed update runs as
        # soon as it may.
        mean_logged_in = self._mean(2)
        may_adapt = not snapshot.leads_exhausted and mean_logged_in > 0
        if may_adapt and schedule.adapt.due(now):
            self._update_from_differential(mean_logged_in)
            schedule.adapt.advance(now)
        if may_adapt and schedule.drops.due(now):
            self._apply_drop_rules(snapshot)
            schedule.drops.advance(now)

        agents = snapshot.ready + snapshot.reserved_agents + len(snapshot.talk_elapsed)
        # sprintf("%.0f") in Perl and Python's round() both round half to even.
        goal = round(self.dial_level * agents)
        ringing = len(snapshot.pending_ages) + snapshot.reserved_pending
        up = ringing + snapshot.waiting + snapshot.connected
        make = goal - up

        placing = schedule.place.due(now)
        dials = 0
        if placing:
            dials = cap_dials(make, snapshot)
            schedule.place.advance(now)
            if dials:
                self.calls_today += dials
                self._calls_minute.append((now, dials))

        return PacingDecision(
            dials=dials,
            explain={
                "dial_level": self.dial_level,
                "goal": goal,
                "make": make,
                "ready": snapshot.ready,
                "waiting": snapshot.waiting,
                "logged_in": snapshot.logged_in,
                "diff": self.last_diff,
                "agents": agents,
                "calls_up": up,
                "placing": int(placing),
            },
        )

    def _mean(self, column: int) -> float:
        if not self._samples:
            return 0.0
        return sum(sample[column] for sample in self._samples) / len(self._samples)

    def _prune(self, now: float) -> None:
        # "Last minute" is VICIdial's call_date > now - 60 s.
        horizon = now - MINUTE
        while self._calls_minute and self._calls_minute[0][0] <= horizon:
            self._calls_minute.popleft()
        while self._drops_minute and self._drops_minute[0] <= horizon:
            self._drops_minute.popleft()

    def _clamp(self, level: float) -> float:
        # "DIAL LEVEL OVER CAP! SETTING TO CAP" / "DIAL LEVEL TOO LOW! SETTING TO 1".
        return max(1.0, min(self.max_dial_level, level))

    def _update_from_differential(self, mean_logged_in: float) -> None:
        """calculate_dial_level: DL x (1 + (mean ready - mean waiting) / mean logged in).

        VICIdial's ``adaptive_dl_diff_target`` (0) and ``adaptive_intensity`` (0) are
        left at their defaults, so the differential is used as is.
        """
        diff = self._mean(0) - self._mean(1)
        self.last_diff = diff
        level = self.dial_level
        if diff != 0:
            level = round(level * (1.0 + diff / mean_logged_in), 3)
        self.dial_level = self._clamp(level)

    def _apply_drop_rules(self, snapshot: PacingSnapshot) -> None:
        """The drop percentage rules that lower DL, on the per-minute drop statistics."""
        level = self.dial_level
        calls_minute = sum(count for _, count in self._calls_minute)
        drops_minute = len(self._drops_minute)
        # "DROP RATE OVER 50% FOR LAST MINUTE! CUTTING DIAL LEVEL": an emergency brake for
        # a burst of drops, independent of the daily budget.
        if calls_minute > MINUTE_MIN_CALLS and drops_minute / calls_minute > MINUTE_MAX_DROP_SHARE:
            level /= 2
        # Today's drops as a share of human answers (answers floored at 1, as VICIdial
        # does) against the campaign's target: ADAPT_TAPERED tapers by the time of day.
        answers = max(1, self.answers_today)
        if self.calls_today > TODAY_MIN_CALLS and self.drops_today / answers > (
            snapshot.abandon_target
        ):
            rate = taper_rate(hhmm(snapshot.wall), self.latest_server_time)
            # "DROP RATE OVER LAST HOUR LIMIT FOR TODAY! TAPERING DIAL LEVEL TO: 1.0"
            level = 1.0 if rate < 0 else level * rate
        self.dial_level = self._clamp(level)
