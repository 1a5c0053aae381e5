"""KPIs on handmade rows: every figure checked against a hand count (dialer.kpis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dialer.kpis import (
    AgentSpanRow,
    AttemptRow,
    DispositionRow,
    PromiseRow,
    Report,
    Window,
    compute,
)
from tests.test_purity import ROOT, forbidden_chains

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def attempt(lead: str, minute: float, outcome: str | None, **kw: object) -> AttemptRow:
    return AttemptRow(lead=lead, placed_at=at(minute), outcome=outcome, **kw)  # type: ignore[arg-type]


ATTEMPTS = [
    attempt("1", 1, "connected", agent="a"),
    attempt("1", 2, "no_answer"),
    attempt("2", 3, "connected", agent="b"),
    attempt("3", 4, "abandoned", abandoned=True),
    attempt("4", 5, "lost"),
    attempt("5", 6, "machine"),
    attempt("6", 7, "busy"),
    attempt("7", 8, "connected", agent="a"),
    AttemptRow(lead="8", placed_at=None, outcome=None),  # claimed, never dialled
    attempt("9", 120, "abandoned", abandoned=True),  # after the window
]
DISPOSITIONS = [
    DispositionRow("1", "promise_to_pay", at(4), "a"),
    DispositionRow("2", "wrong_number", at(6), "b"),
    DispositionRow("7", "rpc", at(11), "a"),
    DispositionRow("7", "custom_code", at(12), "a"),
    DispositionRow("9", "refused", at(125), "a"),  # after the window
]
PROMISES = [
    PromiseRow("1", Decimal("100.50"), "MXN", date(2026, 3, 9), "kept", at(4)),
    PromiseRow("7", Decimal("50.00"), "MXN", date(2026, 3, 9), "broken", at(11)),
    PromiseRow("8", Decimal("20.00"), "USD", date(2026, 3, 9), "pending", at(12)),
]
SPANS = [
    AgentSpanRow("a", "ready", at(0), at(1)),  # 60 s wait
    AgentSpanRow("a", "on_call", at(1), at(3)),  # 120 s talk
    AgentSpanRow("a", "wrapup", at(3), at(4)),  # 60 s wrap-up
    AgentSpanRow("a", "paused", at(4), at(8)),  # not counted
    AgentSpanRow("a", "on_call", at(8), at(10)),  # 120 s talk
    AgentSpanRow("b", "ready", at(-10), at(3)),  # clipped to 180 s of wait
    AgentSpanRow("b", "on_call", at(3), None),  # open: until the window's end (60 min)
]
WINDOW = Window(T0, at(60))


def report() -> Report:
    return compute(
        "c",
        window=WINDOW,
        now=at(200),
        attempts=ATTEMPTS,
        dispositions=DISPOSITIONS,
        promises=PROMISES,
        spans=SPANS,
    )


def test_dial_and_abandon_figures() -> None:
    r = report()
    assert r.dials == 8  # the undialled claim and the late attempt are out
    assert r.leads_dialled == 7
    assert r.attempts_per_lead == pytest.approx(8 / 7)
    assert r.live_answers == 5  # 3 connected + 1 abandoned + 1 lost
    assert r.connected == 3
    assert r.abandoned == 1
    assert r.abandon_rate == pytest.approx(1 / 5)
    assert r.abandon_rate_of_dials == pytest.approx(1 / 8)
    # The TCPA/Ofcom periods end at the window's end: the late abandon is outside too.
    assert r.abandon_rate_30d == pytest.approx(1 / 5)
    assert r.abandon_rate_24h == pytest.approx(1 / 5)
    assert r.outcomes == {
        "abandoned": 1,
        "busy": 1,
        "connected": 3,
        "lost": 1,
        "machine": 1,
        "no_answer": 1,
    }


def test_regulatory_periods_reach_before_the_window() -> None:
    old = [attempt(str(i), -60 * 24 * 10, "abandoned", abandoned=True) for i in range(5)]
    r = compute("c", window=WINDOW, now=at(200), attempts=[*ATTEMPTS, *old])
    assert r.abandon_rate == pytest.approx(1 / 5)  # the window alone
    assert r.abandon_rate_30d == pytest.approx(6 / 10)  # ten days ago is within 30 days
    assert r.abandon_rate_24h == pytest.approx(1 / 5)  # but not within 24 hours


def test_contacts_and_promises() -> None:
    r = report()
    assert r.contacts == 3  # promise, wrong number, RPC; the custom code counts as neither
    assert r.right_party_contacts == 2
    assert r.contact_rate == pytest.approx(3 / 8)
    assert r.rpc_rate == pytest.approx(2 / 8)
    assert r.dispositions == {"custom_code": 1, "promise_to_pay": 1, "rpc": 1, "wrong_number": 1}
    assert r.promises == 3
    assert r.promised_amount == {"MXN": Decimal("150.50"), "USD": Decimal("20.00")}
    assert r.promises_kept == 1
    assert r.kept_amount == {"MXN": Decimal("100.50")}
    assert r.promises_broken == 1
    assert r.promises_kept_rate == pytest.approx(0.5)  # the pending one is not decided


def test_custom_codes_can_count_as_contacts() -> None:
    r = compute(
        "c",
        window=WINDOW,
        now=at(200),
        attempts=ATTEMPTS,
        dispositions=DISPOSITIONS,
        custom_codes={"custom_code": (True, True)},
    )
    assert (r.contacts, r.right_party_contacts) == (4, 3)


def test_agent_times_and_occupancy() -> None:
    r = report()
    talk = 120 + 120 + 57 * 60  # b's open call runs from minute 3 to the window's end
    assert r.talk_seconds == pytest.approx(talk)
    assert r.wrapup_seconds == pytest.approx(60)
    assert r.wait_seconds == pytest.approx(60 + 180)
    assert r.handled_calls == 3
    assert r.avg_talk_seconds == pytest.approx(talk / 3)
    assert r.avg_wrapup_seconds == pytest.approx(20)
    assert r.avg_wait_seconds == pytest.approx(80)
    assert r.occupancy == pytest.approx((talk + 60) / (talk + 60 + 240))


def test_empty_rates_are_unknown_not_zero() -> None:
    r = compute("c", window=WINDOW, now=at(1), attempts=[])
    assert r.dials == 0
    assert r.abandon_rate is None
    assert r.contact_rate is None
    assert r.occupancy is None
    assert r.attempts_per_lead is None


def test_json_form() -> None:
    d = report().as_dict()
    assert d["window_start"] == T0.isoformat()
    assert d["promised_amount"] == {"MXN": "150.50", "USD": "20.00"}


def test_window_checks() -> None:
    with pytest.raises(ValueError, match="end"):
        Window(at(5), at(5))
    with pytest.raises(ValueError, match="timezone"):
        Window(datetime(2026, 3, 2), None)


@pytest.mark.parametrize(
    "module", ["dialer/kpis.py", "dialer/assignment.py", "dialer/disposition_codes.py"]
)
def test_ops_pure_modules_import_no_io(module: str) -> None:
    assert forbidden_chains(ROOT / module) == []
