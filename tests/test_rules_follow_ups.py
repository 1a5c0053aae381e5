"""Callbacks and promise-to-pay follow-ups, priority, settings validation and the
``explain`` text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from dialer.ids import AgentId, LeadId
from dialer.leads import AttemptOutcome as O
from rules import (
    AttemptFact,
    CallbackFact,
    CallingWindows,
    ContactPolicy,
    LeadFacts,
    PhoneFacts,
    PolicySettings,
    PriorityWeights,
    PromiseFact,
    due_callbacks,
    explain,
    follow_up_at,
    follow_ups,
    priority,
)

MX = ZoneInfo("America/Mexico_City")
NUM = "5215512345678"
PHONE = PhoneFacts(NUM, "MX", "America/Mexico_City")
ANA = AgentId("ana")
BEN = AgentId("ben")


def mx(*args: int) -> datetime:
    return datetime(*args, tzinfo=MX)  # type: ignore[misc, arg-type]


def facts(
    *,
    attempts: tuple[AttemptFact, ...] = (),
    promises: tuple[PromiseFact, ...] = (),
    callbacks: tuple[CallbackFact, ...] = (),
) -> LeadFacts:
    return LeadFacts(LeadId("L9"), (PHONE,), attempts, promises=promises, callbacks=callbacks)


def rule(v: object, name: str) -> tuple[bool, datetime | None]:
    (c,) = [c for c in v.checks if c.rule == name]  # type: ignore[attr-defined]
    return c.passed, c.until


# -- promises -------------------------------------------------------------------------


def test_follow_up_is_the_local_day_after_the_promised_date() -> None:
    p = PromiseFact(Decimal("1500.00"), date(2026, 6, 10), "pending")
    assert follow_up_at(p, MX) == mx(2026, 6, 11, 0, 0)


def test_pending_promise_holds_the_lead_then_raises_its_priority() -> None:
    p = PromiseFact(Decimal("1500.00"), date(2026, 6, 10), "pending")  # a Wednesday
    policy = ContactPolicy()
    held = policy.evaluate(facts(promises=(p,)), PHONE, at=mx(2026, 6, 9, 10, 0))
    assert not held.allowed
    assert rule(held, "promise") == (False, mx(2026, 6, 11, 0, 0))
    # The follow-up is due from midnight; the window opens at 07:00.
    assert held.next_eligible == mx(2026, 6, 11, 7, 0)
    due = policy.evaluate(facts(promises=(p,)), PHONE, at=mx(2026, 6, 11, 7, 0))
    assert due.allowed
    assert due.priority_boost == policy.settings.follow_up_boost
    assert due.due_reason is not None and "promise" in due.due_reason


@pytest.mark.parametrize(("status", "paid"), [("kept", True), ("broken", False), ("pending", True)])
def test_settled_or_paid_promises_schedule_nothing(status: str, paid: bool) -> None:
    p = PromiseFact(Decimal("10"), date(2026, 6, 10), status, paid)
    v = ContactPolicy().evaluate(facts(promises=(p,)), PHONE, at=mx(2026, 6, 9, 10))
    assert v.allowed and v.priority_boost == 0.0
    assert [c.rule for c in v.checks if c.rule == "promise"] == []
    assert follow_ups(facts(promises=(p,)), MX) == ()


def test_promise_hold_can_be_switched_off() -> None:
    p = PromiseFact(Decimal("10"), date(2026, 6, 10), "pending")
    s = PolicySettings(hold_for_promises=False)
    assert ContactPolicy(s).evaluate(facts(promises=(p,)), PHONE, at=mx(2026, 6, 9, 10)).allowed


def test_bad_promise_status_is_refused() -> None:
    with pytest.raises(ValueError, match=r"PromiseFact\.status"):
        PromiseFact(Decimal("10"), date(2026, 6, 10), "maybe")


# -- callbacks ------------------------------------------------------------------------


def test_callback_holds_the_lead_until_the_agreed_time_then_is_due() -> None:
    cb = CallbackFact(mx(2026, 6, 9, 16, 30), None)
    policy = ContactPolicy()
    early = policy.evaluate(facts(callbacks=(cb,)), PHONE, at=mx(2026, 6, 9, 10))
    assert not early.allowed
    assert early.next_eligible == mx(2026, 6, 9, 16, 30)
    due = policy.evaluate(facts(callbacks=(cb,)), PHONE, at=mx(2026, 6, 9, 16, 30))
    assert due.allowed and due.priority_boost == policy.settings.callback_boost
    assert due.route_to is None


def test_agent_owned_callback_goes_to_that_agent_only() -> None:
    cb = CallbackFact(mx(2026, 6, 9, 16, 30), ANA)
    policy = ContactPolicy()
    at = mx(2026, 6, 9, 17, 0)
    anyone = policy.evaluate(facts(callbacks=(cb,)), PHONE, at=at)
    assert not anyone.allowed and anyone.route_to == ANA
    assert anyone.next_eligible is None  # never for an unreserved call
    assert not policy.evaluate(facts(callbacks=(cb,)), PHONE, at=at, reserved_for=BEN).allowed
    ana = policy.evaluate(facts(callbacks=(cb,)), PHONE, at=at, reserved_for=ANA)
    assert ana.allowed and ana.route_to == ANA


def test_due_callback_overrides_the_retry_delay() -> None:
    # No answer at 16:00 (2 h retry delay); the debtor had agreed to a 16:30 callback.
    cb = CallbackFact(mx(2026, 6, 9, 16, 30))
    tried = AttemptFact(NUM, mx(2026, 6, 9, 16, 0), O.NO_ANSWER)
    v = ContactPolicy().evaluate(
        facts(attempts=(tried,), callbacks=(cb,)), PHONE, at=mx(2026, 6, 9, 16, 5)
    )
    assert not v.allowed
    assert v.next_eligible == mx(2026, 6, 9, 16, 30)  # not 18:00


def test_recent_consent_exempts_the_reg_f_frequency_rules() -> None:
    # A conversation at 10:00 agrees a callback at 15:00: Reg F 1006.14(b)(3)(i).
    talk = AttemptFact(NUM, mx(2026, 6, 9, 10, 0), O.CONNECTED, conversation=True)
    cb = CallbackFact(mx(2026, 6, 9, 15, 0), None, agreed_at=mx(2026, 6, 9, 10, 5))
    policy = ContactPolicy()
    v = policy.evaluate(facts(attempts=(talk,), callbacks=(cb,)), PHONE, at=mx(2026, 6, 9, 11))
    assert v.next_eligible == mx(2026, 6, 9, 15, 0)
    due = policy.evaluate(facts(attempts=(talk,), callbacks=(cb,)), PHONE, at=mx(2026, 6, 9, 15))
    assert due.allowed
    assert "exempt" in next(c for c in due.checks if c.rule == "conversation").reason
    # Without a recorded consent time the conversation rule still binds.
    bare = CallbackFact(mx(2026, 6, 9, 15, 0))
    held = policy.evaluate(facts(attempts=(talk,), callbacks=(bare,)), PHONE, at=mx(2026, 6, 9, 15))
    assert not held.allowed and rule(held, "conversation")[0] is False


def test_due_callbacks_and_follow_ups_for_the_store() -> None:
    cb1 = CallbackFact(mx(2026, 6, 9, 16, 30), ANA)
    cb2 = CallbackFact(mx(2026, 6, 8, 9, 0))
    p = PromiseFact(Decimal("99.50"), date(2026, 6, 12), "pending")
    assert due_callbacks((cb1, cb2), at=mx(2026, 6, 9, 12)) == (cb2,)
    assert due_callbacks((cb1, cb2), at=mx(2026, 6, 9, 17)) == (cb2, cb1)
    items = follow_ups(facts(promises=(p,), callbacks=(cb1, cb2)), MX)
    assert [(f.kind, f.agent) for f in items] == [
        ("callback", None),
        ("callback", ANA),
        ("promise", None),
    ]
    assert items[-1].at == mx(2026, 6, 13, 0, 0)
    assert all(f.at.tzinfo is UTC for f in items)


# -- priority -------------------------------------------------------------------------


def test_priority_orders_by_segment_amount_and_age() -> None:
    w = PriorityWeights(segments={"vip": 3.0, "low": 0.5})
    base = priority("standard", Decimal("1000"), 30, weights=w)
    assert priority("vip", Decimal("1000"), 30, weights=w) == pytest.approx(3 * base)
    assert priority("low", Decimal("1000"), 30, weights=w) < base
    assert priority("standard", Decimal("5000"), 30, weights=w) > base
    assert priority("standard", Decimal("1000"), 90, weights=w) > base
    # Days past due are capped.
    assert priority(None, 1000, 180, weights=w) == priority(None, 1000, 900, weights=w)
    assert priority(None, 0, 0, weights=w) == 1.0


@pytest.mark.parametrize(
    ("amount", "dpd", "message"),
    [(-1, 0, "debt_amount"), (float("nan"), 0, "debt_amount"), (10, -3, "days_past_due")],
)
def test_priority_rejects_bad_input(amount: float, dpd: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        priority(None, amount, dpd, weights=PriorityWeights())


def test_priority_weights_validation() -> None:
    with pytest.raises(ValueError, match="amount_unit"):
        PriorityWeights(amount_unit=0)
    with pytest.raises(ValueError, match="segments"):
        PriorityWeights(segments={"x": -1.0})


# -- settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_per_phone_per_day": -1}, "max_per_phone_per_day"),
        ({"weekly_cap": 1.5}, "weekly_cap"),
        ({"abandon_quiet": timedelta(hours=-1)}, "abandon_quiet"),
        ({"retry_delays": {O.BUSY: timedelta(minutes=-5)}}, "retry_delays"),
        ({"retry_delays": {"busy": timedelta(minutes=5)}}, "retry_delays"),
        ({"campaign_mode": "union"}, "campaign_mode"),
        ({"horizon": timedelta(hours=1)}, "horizon"),
        ({"country_windows": {"usa": CallingWindows.weekly({})}}, "country_windows"),
        ({"callback_boost": float("inf")}, "callback_boost"),
    ],
)
def test_settings_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PolicySettings(**kwargs)  # type: ignore[arg-type]


def test_facts_validation() -> None:
    with pytest.raises(ValueError, match=r"PhoneFacts\.number"):
        PhoneFacts("+5215512345678", "MX", "America/Mexico_City")
    with pytest.raises(ValueError, match=r"PhoneFacts\.time_zone"):
        PhoneFacts(NUM, "MX", "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match=r"PhoneFacts\.country"):
        PhoneFacts(NUM, "mex", "America/Mexico_City")
    with pytest.raises(ValueError, match=r"AttemptFact\.at"):
        AttemptFact(NUM, datetime(2026, 6, 9, 10), O.BUSY)
    with pytest.raises(ValueError, match=r"CallbackFact\.at"):
        CallbackFact(datetime(2026, 6, 9, 10))


def test_campaign_windows_narrow_by_default_and_replace_on_request() -> None:
    evening = CallingWindows.weekly({d: [("18:00", "23:00")] for d in range(7)}, source="late")
    at = mx(2026, 6, 9, 22, 30)  # a Tuesday, after Mexico's 22:00
    assert not ContactPolicy().evaluate(facts(), PHONE, at=at, campaign_windows=evening).allowed
    replace = ContactPolicy(PolicySettings(campaign_mode="replace"))
    assert replace.evaluate(facts(), PHONE, at=at, campaign_windows=evening).allowed
    # Narrowing: 17:00 is inside Mexico's hours but outside the campaign's.
    v = ContactPolicy().evaluate(facts(), PHONE, at=mx(2026, 6, 9, 17), campaign_windows=evening)
    assert v.next_eligible == mx(2026, 6, 9, 18, 0)


# -- explain --------------------------------------------------------------------------


def test_explain_lists_every_rule_and_the_next_time_local_and_utc() -> None:
    tried = AttemptFact(NUM, mx(2026, 6, 9, 21, 0), O.ABANDONED)
    lead = facts(attempts=(tried,))
    v = ContactPolicy().evaluate(lead, PHONE, at=mx(2026, 6, 9, 21, 30))
    lines = explain(v, lead=lead, phone=PHONE, tz=MX)
    text = "\n".join(lines)
    assert lines[0].startswith("lead L9, phone +5215512345678 (MX, America/Mexico_City)")
    assert "REFUSED" in lines[1]
    for c in v.checks:
        assert any(f"{c.rule}:" in line for line in lines)
    assert "FAIL  abandon_72h" in text
    assert "pass  dnc" in text
    # 72 h after 21:00 Tuesday is 21:00 Friday, inside Mexico's 07:00-22:00.
    assert v.next_eligible == mx(2026, 6, 12, 21, 0)
    assert lines[-1] == "next eligible: Fri 2026-06-12 21:00 CST = 2026-06-13 03:00:00 UTC"


def test_an_abandon_late_on_friday_waits_for_monday_in_mexico() -> None:
    tried = AttemptFact(NUM, mx(2026, 6, 12, 21, 45), O.ABANDONED)  # Friday 21:45
    v = ContactPolicy().evaluate(facts(attempts=(tried,)), PHONE, at=mx(2026, 6, 12, 21, 50))
    # 72 h later is Monday 21:45: open until 22:00.
    assert v.next_eligible == mx(2026, 6, 15, 21, 45)


def test_explain_says_never_for_dnc() -> None:
    lead = LeadFacts(LeadId("L9"), (PHONE,), (), dnc=frozenset({NUM}))
    v = ContactPolicy().evaluate(lead, PHONE, at=mx(2026, 6, 9, 10))
    lines = explain(v, lead=lead.lead, phone=PHONE)
    assert lines[-1].startswith("next eligible: never")
    assert any("[never]" in line for line in lines)


def test_policy_follow_ups_due_by_a_moment() -> None:
    cb = CallbackFact(mx(2026, 6, 9, 16, 30), ANA)
    p = PromiseFact(Decimal("99.50"), date(2026, 6, 12), "pending")
    lead = facts(promises=(p,), callbacks=(cb,))
    policy = ContactPolicy()
    assert [f.kind for f in policy.follow_ups(lead)] == ["callback", "promise"]
    assert [f.kind for f in policy.follow_ups(lead, at=mx(2026, 6, 10, 9))] == ["callback"]
    assert policy.follow_ups(lead, at=mx(2026, 6, 9, 9)) == ()
    # In another zone the promise's day starts at another instant.
    tokyo = policy.follow_ups(lead, tz="Asia/Tokyo")[-1]
    assert tokyo.at == datetime(2026, 6, 12, 15, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="no phone"):
        policy.follow_ups(LeadFacts(LeadId("X"), (), ()))


def test_next_eligible_any_picks_the_phone_that_opens_first() -> None:
    us = PhoneFacts("12125550100", "US", "America/New_York")
    lead = LeadFacts(LeadId("L"), (PHONE, us), ())
    # 21:30 in Mexico City (CST, UTC-6) on a Tuesday = 23:30 in New York: Mexico is
    # open until 22:00, New York closed.
    got = ContactPolicy().next_eligible_any(lead, after=mx(2026, 6, 9, 21, 30))
    assert got == (PHONE, mx(2026, 6, 9, 21, 30))
    got = ContactPolicy().next_eligible_any(lead, after=mx(2026, 6, 9, 22, 30))
    # Then New York opens at 08:00 EDT = 06:00 CST, before Mexico's 07:00.
    assert got == (us, mx(2026, 6, 10, 6, 0))
