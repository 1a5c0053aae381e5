"""Collections KPIs of one campaign over a time window, from plain rows. Pure.

Every figure is defined here once; the report command (``dialer report``) only fetches
rows and prints what this module computes. Times are tz-aware datetimes; durations are
seconds; rates are ratios in 0..1 (``None`` when the denominator is zero: a rate of
nothing is unknown, not 0).

Definitions (a row belongs to the window when its own time is in ``[start, end)``:
an attempt by ``placed_at``, a disposition and a promise by ``created_at``):

- **dials**: attempts handed to the telephony (``placed_at`` set). A lead claimed and
  never dialled (a crash before the originate) is not a dial.
- **live answers**: dials on which answering-machine detection found a person: the
  outcomes ``connected`` (an agent took it), ``abandoned`` (no agent within the connect
  deadline: the identification message was played) and ``lost`` (the person hung up
  before the deadline and before an agent heard them; not abandoned by the dialer).
- **abandon rate** = abandoned / live answers. This is the regulators' measure:
  US TCPA safe harbour, 47 CFR 64.1200(a)(7)(i): at most 3% of the calls answered by a
  live person, measured over a 30-day period for a single calling campaign; UK Ofcom,
  *Revised statement of policy on the persistent misuse of an electronic communications
  network or service* (2016): at most 3% of live calls per campaign over any 24-hour
  period. Reported over the window and over the TCPA and Ofcom periods that end at the
  window's end (``abandon_rate_30d``, ``abandon_rate_24h``).
- **abandon rate of dials** = abandoned / dials. Not a regulatory measure (it falls as
  the contact rate falls, which flatters a campaign dialling many dead numbers);
  shown because some dialers and vendors quote it, so that the two are never confused.
- **contacts** / **right-party contacts**: dispositions whose code counts as such
  (``dialer.disposition_codes``); **contact rate** and **RPC rate** are per dial.
- **promises**: promises to pay created in the window, count and amount per currency;
  **kept** / **broken**: those of them whose status is now kept / broken;
  **kept rate** = kept / (kept + broken) (pending promises are not yet decided).
- agent time, from agent state spans clipped to the window: **talk** (on a call),
  **wrap-up** (after-call work), **wait** (ready or reserved: waiting for a call).
  **occupancy** = (talk + wrap-up) / (talk + wrap-up + wait): the share of available
  time spent handling calls (paused and logged-out time are excluded). Averages are
  per handled call (ON_CALL spans that started in the window).
- **attempts per lead** = dials / distinct leads dialled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from dialer.disposition_codes import classify

LIVE_OUTCOMES = frozenset({"connected", "abandoned", "lost"})
TCPA_PERIOD = timedelta(days=30)
OFCOM_PERIOD = timedelta(hours=24)
# Agent states (agents.state.AgentState values) and the time bucket each one feeds.
_TALK, _WRAP, _WAIT = (
    frozenset({"on_call"}),
    frozenset({"wrapup"}),
    frozenset({"ready", "reserved"}),
)


@dataclass(frozen=True, slots=True)
class AttemptRow:
    lead: str
    placed_at: datetime | None
    outcome: str | None
    abandoned: bool = False
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class DispositionRow:
    lead: str
    code: str
    created_at: datetime
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class PromiseRow:
    lead: str
    amount: Decimal
    currency: str
    due_date: date
    status: str  # pending | kept | broken
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AgentSpanRow:
    """An agent in one state from ``start`` to ``end`` (``None``: still in it at ``now``)."""

    agent: str
    state: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)``; ``None`` leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: must be timezone-aware")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end: must be after start")

    def __contains__(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


@dataclass(frozen=True, slots=True)
class Report:
    """Rates are ratios in 0..1 or None; times in seconds; amounts per currency."""

    campaign: str
    window_start: datetime | None
    window_end: datetime | None
    dials: int
    leads_dialled: int
    attempts_per_lead: float | None
    outcomes: dict[str, int]
    live_answers: int
    connected: int
    abandoned: int
    abandon_rate: float | None
    abandon_rate_of_dials: float | None
    abandon_rate_30d: float | None
    abandon_rate_24h: float | None
    contacts: int
    contact_rate: float | None
    right_party_contacts: int
    rpc_rate: float | None
    dispositions: dict[str, int]
    promises: int
    promised_amount: dict[str, Decimal]
    promises_kept: int
    kept_amount: dict[str, Decimal]
    promises_broken: int
    promises_kept_rate: float | None
    handled_calls: int
    talk_seconds: float
    wrapup_seconds: float
    wait_seconds: float
    avg_talk_seconds: float | None
    avg_wrapup_seconds: float | None
    avg_wait_seconds: float | None
    occupancy: float | None
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: datetimes in ISO 8601, amounts as decimal strings."""
        out: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = {k: str(v) if isinstance(v, Decimal) else v for k, v in value.items()}
            out[name] = value
        return out


def _rate(num: int | float, den: int | float) -> float | None:
    return num / den if den else None


def _abandon_rate(attempts: Iterable[AttemptRow], start: datetime, end: datetime) -> float | None:
    live = abandoned = 0
    for a in attempts:
        if a.placed_at is None or not start <= a.placed_at < end:
            continue
        if a.outcome in LIVE_OUTCOMES:
            live += 1
            abandoned += a.abandoned or a.outcome == "abandoned"
    return _rate(abandoned, live)


def _clip(span: AgentSpanRow, window: Window, now: datetime) -> float:
    start = span.start if window.start is None else max(span.start, window.start)
    end = now if span.end is None else span.end
    if window.end is not None:
        end = min(end, window.end)
    return max(0.0, (end - start).total_seconds())


def compute(
    campaign: str,
    *,
    window: Window,
    now: datetime,
    attempts: Iterable[AttemptRow],
    dispositions: Iterable[DispositionRow] = (),
    promises: Iterable[PromiseRow] = (),
    spans: Iterable[AgentSpanRow] = (),
    custom_codes: Mapping[str, tuple[bool, bool]] | None = None,
) -> Report:
    """The campaign's KPIs over ``window``. ``now`` closes open spans and, for an open
    window end, ends the TCPA and Ofcom periods. ``attempts`` may reach back before the
    window (30 days before its end feed ``abandon_rate_30d``); other rows outside the
    window are ignored."""
    all_attempts = list(attempts)
    end = window.end if window.end is not None else now
    in_window = [a for a in all_attempts if a.placed_at is not None and a.placed_at in window]
    outcomes = Counter(a.outcome or "open" for a in in_window)
    leads = {a.lead for a in in_window}
    live = sum(1 for a in in_window if a.outcome in LIVE_OUTCOMES)
    abandoned = sum(
        1
        for a in in_window
        if a.outcome in LIVE_OUTCOMES and (a.abandoned or a.outcome == "abandoned")
    )
    dials = len(in_window)

    custom = dict(custom_codes) if custom_codes is not None else None
    codes: Counter[str] = Counter()
    contacts = rpc = 0
    for d in dispositions:
        if d.created_at not in window:
            continue
        codes[d.code] += 1
        is_contact, is_rpc = classify(d.code, custom=custom)
        contacts += is_contact
        rpc += is_rpc

    n_promises = kept = broken = 0
    promised: dict[str, Decimal] = {}
    kept_amount: dict[str, Decimal] = {}
    for p in promises:
        if p.created_at not in window:
            continue
        n_promises += 1
        promised[p.currency] = promised.get(p.currency, Decimal(0)) + p.amount
        if p.status == "kept":
            kept += 1
            kept_amount[p.currency] = kept_amount.get(p.currency, Decimal(0)) + p.amount
        elif p.status == "broken":
            broken += 1

    talk = wrap = wait = 0.0
    handled = 0
    for s in spans:
        seconds = _clip(s, window, now)
        if s.state in _TALK:
            talk += seconds
            handled += s.start in window
        elif s.state in _WRAP:
            wrap += seconds
        elif s.state in _WAIT:
            wait += seconds

    return Report(
        campaign=campaign,
        window_start=window.start,
        window_end=window.end,
        dials=dials,
        leads_dialled=len(leads),
        attempts_per_lead=_rate(dials, len(leads)),
        outcomes=dict(sorted(outcomes.items())),
        live_answers=live,
        connected=outcomes.get("connected", 0),
        abandoned=abandoned,
        abandon_rate=_rate(abandoned, live),
        abandon_rate_of_dials=_rate(abandoned, dials),
        abandon_rate_30d=_abandon_rate(all_attempts, end - TCPA_PERIOD, end),
        abandon_rate_24h=_abandon_rate(all_attempts, end - OFCOM_PERIOD, end),
        contacts=contacts,
        contact_rate=_rate(contacts, dials),
        right_party_contacts=rpc,
        rpc_rate=_rate(rpc, dials),
        dispositions=dict(sorted(codes.items())),
        promises=n_promises,
        promised_amount=promised,
        promises_kept=kept,
        kept_amount=kept_amount,
        promises_broken=broken,
        promises_kept_rate=_rate(kept, kept + broken),
        handled_calls=handled,
        talk_seconds=talk,
        wrapup_seconds=wrap,
        wait_seconds=wait,
        avg_talk_seconds=_rate(talk, handled),
        avg_wrapup_seconds=_rate(wrap, handled),
        avg_wait_seconds=_rate(wait, handled),
        occupancy=_rate(talk + wrap, talk + wrap + wait),
    )
