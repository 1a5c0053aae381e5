"""Disposition codes: what an agent says happened on a call, and what each one counts as.

Pure: shared by the dispositions service (``dialer.dispositions``), the agent HTTP API,
the simulated agents and the reports (``dialer.kpis``). The values are the store's
(``dialer.store.outcomes.DispositionCode``; a test keeps the two equal).

Collections vocabulary: a *contact* is a conversation with a person; a *right-party
contact* (RPC) is a conversation with the debtor themself (the person the debt is
about), the only kind on which a debt can be discussed (US Regulation F, 12 CFR
1006.6(d): a debt collector may not discuss the debt with third parties). A promise to
pay and a refusal to pay both presuppose the debtor: they are RPCs.
"""

from __future__ import annotations

from enum import StrEnum


class DispositionCode(StrEnum):
    CONTACT = "contact"  # spoke with someone who is not the debtor (third party)
    RIGHT_PARTY_CONTACT = "rpc"  # spoke with the debtor, no outcome below
    PROMISE_TO_PAY = "promise_to_pay"  # the debtor promised an amount by a date
    REFUSED = "refused"  # the debtor refused to pay
    WRONG_NUMBER = "wrong_number"  # the number does not reach the debtor
    CALLBACK = "callback"  # call back at an agreed time (agent-owned or anyone)
    DO_NOT_CALL = "do_not_call"  # the person asked not to be called on this number
    PAID = "paid"  # the debtor has paid (the lead is closed)


# code -> (is a contact, is a right-party contact). Custom codes from the configuration
# count as neither unless configured otherwise (``classify``'s ``custom`` argument).
_CLASS: dict[str, tuple[bool, bool]] = {
    DispositionCode.CONTACT: (True, False),
    DispositionCode.RIGHT_PARTY_CONTACT: (True, True),
    DispositionCode.PROMISE_TO_PAY: (True, True),
    DispositionCode.REFUSED: (True, True),
    DispositionCode.WRONG_NUMBER: (True, False),
    # A callback is agreed with whoever answered; whether it was the debtor is not known
    # from the code alone, so it counts as a contact only (a conservative RPC count).
    DispositionCode.CALLBACK: (True, False),
    DispositionCode.DO_NOT_CALL: (True, False),
    DispositionCode.PAID: (True, True),
}

STANDARD_CODES: frozenset[str] = frozenset(DispositionCode)


def classify(code: str, *, custom: dict[str, tuple[bool, bool]] | None = None) -> tuple[bool, bool]:
    """(contact, right-party contact) for ``code``; unknown codes are neither."""
    if code in _CLASS:
        return _CLASS[code]
    if custom is not None and code in custom:
        return custom[code]
    return (False, False)
