"""The telephony port: its number guard, and its event contract on the public test backend.

A phone number is E.164 digits and nothing else.
Asterisk dial strings are a command language (``&`` dials several channels, ``/`` and
``@`` pick a technology or context, ``,`` separates options, ``)`` closes one): a number
that carries any of them is an injection, refused before it reaches a dial string.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dialer.errors import InvalidNumber, TelephonyError
from dialer.ids import AgentId, CallId, LeadId
from simulator.loop import VirtualTimeLoop
from telephony.events import AmdVerdict, CallAnswered, CallBridged
from telephony.port import Originate, e164_digits
from telephony.scripted import Script, ScriptedTelephony

ACCEPTED = [
    ("+525512345678", "525512345678"),
    ("525512345678", "525512345678"),
    ("1234567", "1234567"),  # 7 digits: the shortest we take
    ("+123456789012345", "123456789012345"),  # 15 digits: E.164's maximum
]

REFUSED = [
    "5255&Local/1@x",  # & dials a second channel
    "52 55 1234",
    "+0123",  # no country code starts with 0
    "0525512345678",
    "",
    "+",
    "123",
    "123456",  # 6 digits
    "1" * 16,  # one more than E.164 allows
    "+" + "1" * 16,
    "5255)",
    "5255,1",
    "5255/1234567",
    "5255@1234567",
    "٥٥٥٥٥٥٥٥",  # Arabic-Indic digits: str.isdigit() says yes, a dial string says no
    "５２５５１２３４５６７８",  # fullwidth digits
    "++525512345678",
    "52-55-1234-5678",
    "525512345678\n",
    "525512345678\x00",
    " 525512345678",
    "tel:525512345678",
]


@pytest.mark.parametrize(("number", "digits"), ACCEPTED)
def test_accepts_e164(number: str, digits: str) -> None:
    assert e164_digits(number) == digits


@pytest.mark.parametrize("number", REFUSED)
def test_refuses_anything_else(number: str) -> None:
    with pytest.raises(InvalidNumber):
        e164_digits(number)


def test_invalid_number_is_a_telephony_error() -> None:
    assert issubclass(InvalidNumber, TelephonyError)


def _originate(number: str, ring_timeout: float = 25.0) -> Originate:
    return Originate(
        call=CallId("c1"),
        lead=LeadId("L1"),
        number=number,
        ring_timeout=ring_timeout,
        reserved_for=AgentId("a1"),
    )


@pytest.mark.parametrize("number", REFUSED)
def test_originate_refuses_bad_numbers_at_construction(number: str) -> None:
    with pytest.raises(InvalidNumber):
        _originate(number)


def test_originate_keeps_a_good_number() -> None:
    assert _originate("525512345678").number == "525512345678"


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_originate_needs_a_positive_ring_timeout(timeout: float) -> None:
    with pytest.raises(ValueError, match="ring_timeout"):
        _originate("525512345678", timeout)


_ASCII_DIGITS = re.compile(r"[0-9]{7,15}")
_NEAR_MISSES = st.from_regex(r"\A\+?[0-9&/,@)( +\-٥]{0,18}\Z")


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=20), _NEAR_MISSES))
@example("+525512345678")
@example("5255&Local/1@x")
def test_anything_accepted_is_7_to_15_ascii_digits(number: str) -> None:
    try:
        digits = e164_digits(number)
    except InvalidNumber:
        return
    assert _ASCII_DIGITS.fullmatch(digits)
    assert digits.isascii()
    assert not digits.startswith("0")
    assert number in (digits, "+" + digits)


# ---------------------------------------------------------------- the public test backend

_FATES = ["human", "machine", "busy", "no_answer", "failed"]
_ORDERS = st.lists(
    st.tuples(
        st.floats(0.0, 40.0),
        st.sampled_from(["bridge", "play_and_hangup", "hangup", "remote_hangup"]),
    ),
    max_size=4,
)


def _script_strategy() -> st.SearchStrategy[Script]:
    return st.builds(
        Script,
        fate=st.sampled_from(_FATES),
        ring=st.floats(0.0, 30.0),
        decision=st.floats(0.0, 4.0),
        talk=st.floats(0.0, 30.0),
        patience=st.one_of(st.just(math.inf), st.floats(0.0, 10.0)),
        verdict=st.one_of(st.none(), st.sampled_from(AmdVerdict)),
        ringing=st.one_of(st.none(), st.floats(0.0, 3.0)),
    )


@settings(max_examples=150, deadline=None)
@given(script=_script_strategy(), orders=_ORDERS)
# Found by Hypothesis: a hang-up within the loop's clock resolution of the answer, after
# the verdict timer had already run early, was taken for a hang-up before the answer.
@example(
    script=Script(fate="human", ring=2.4e-115, decision=0.0, talk=0.0, ringing=None),
    orders=[(5e-324, "hangup")],
)
@example(  # and a patience-0 hang-up timer run early, before an answer a few ulps away
    script=Script(fate="human", ring=2.2250738585072014e-308, patience=0.0, ringing=0.0),
    orders=[],
)
def test_the_scripted_backend_keeps_the_ports_event_order(
    script: Script, orders: list[tuple[float, str]]
) -> None:
    """Per call (telephony.events): CallRinging? -> CallAnswered | CallFailed; after an
    answer only CallBridged (once, after a verdict) and CallHungUp; nothing after the last
    event; times never go backwards; every order is recorded with the loop's time."""
    loop = VirtualTimeLoop()
    tel = ScriptedTelephony(default=script, loop=loop)
    call = CallId("c1")

    async def drive() -> None:
        await tel.originate(_originate("525512345678"))
        for at, kind in sorted(orders):
            await asyncio.sleep(max(0.0, at - loop.time()))
            if kind == "bridge":
                await tel.bridge(call, AgentId("a1"))
            elif kind == "play_and_hangup":
                await tel.play_and_hangup(call, "bye")
            elif kind == "hangup":
                await tel.hangup(call)
            else:
                tel.remote_hangup(call)
        await asyncio.sleep(100.0)
        await tel.hangup(call)  # whatever is still up (a person waiting, a machine) ends now
        await asyncio.sleep(1.0)

    try:
        loop.run_until_complete(drive())
    finally:
        loop.close()
    kinds = [type(e).__name__ for e in tel.emitted]
    assert re.fullmatch(
        r"(CallRinging,)?(CallFailed|CallAnswered,(CallBridged,)?CallHungUp)", ",".join(kinds)
    ), kinds
    times = [e.at for e in tel.emitted]
    # asyncio runs timers due within its clock resolution (1e-9 s) of now as if due now.
    assert all(later >= earlier - 1e-9 for earlier, later in itertools.pairwise(times))
    assert tel.active == 0  # every call reached its last event
    assert tel.orders[0].kind == "originate"
    assert len(tel.orders) == 2 + sum(k != "remote_hangup" for _, k in orders)
    answered = [e for e in tel.emitted if isinstance(e, CallAnswered)]
    bridged = [e for e in tel.emitted if isinstance(e, CallBridged)]
    if bridged:
        assert answered and answered[0].verdict is not AmdVerdict.HUNG_UP
        assert bridged[0].at >= answered[0].at
    if answered:
        assert answered[0].answered_at <= answered[0].at


def test_the_scripted_backend_refuses_when_told() -> None:
    loop = VirtualTimeLoop()
    tel = ScriptedTelephony(scripts={"525512345678": Script(fate="refused")}, loop=loop)
    try:
        with pytest.raises(TelephonyError):
            loop.run_until_complete(tel.originate(_originate("525512345678")))
    finally:
        loop.close()
    assert [o.kind for o in tel.orders] == ["originate"]
    assert tel.emitted == []


@pytest.mark.parametrize(
    "bad",
    [
        {"fate": "maybe"},
        {"ring": -1.0},
        {"talk": math.inf},
        {"patience": math.nan},
        {"ringing": -0.5},
    ],
)
def test_a_script_checks_its_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # each message names its own field
        Script(**bad)  # type: ignore[arg-type]
