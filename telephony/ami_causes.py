"""What Asterisk's numbers and words mean for a call's outcome (pure tables).

OriginateResponse ``Reason`` values, Q.850 hang-up causes, channel states and AMD
statuses, as seen in the fixtures (README "Which events carry the outcome") and in
Asterisk's sources (cited per table).
"""

from __future__ import annotations

from telephony.events import AmdVerdict, FailCause

# Asterisk channel states (include/asterisk/channelstate.h).
STATE_RINGING = "5"
STATE_UP = "6"

# OriginateResponse Reason: pbx_dial_reason() in main/pbx.c, values of ast_control_frame_type.
REASON_FAILED = 0
REASON_HANGUP = 1
REASON_NO_ANSWER = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8

# Q.850 causes (include/asterisk/causes.h) that mean "the number or network refused".
CAUSE_BUSY = 17
CAUSES_NO_ANSWER = frozenset({18, 19})
CAUSES_CONGESTION = frozenset({1, 2, 3, 21, 22, 27, 28, 34, 38, 41, 42, 44})

AMD_STATUS = {
    "HUMAN": AmdVerdict.HUMAN,
    "MACHINE": AmdVerdict.MACHINE,
    "NOTSURE": AmdVerdict.NOT_SURE,
    "HANGUP": AmdVerdict.HUNG_UP,
    "FAX": AmdVerdict.FAX,
    "SIT": AmdVerdict.SIT,
}


def verdict_of(status: str) -> AmdVerdict | None:
    """``AMDSTATUS`` (or our UserEvent's ``AMDStatus``) as a verdict; ``None`` if empty.

    An unknown non-empty value is ``NOT_SURE``: the campaign's not-sure policy decides,
    rather than a silent drop of a call that may be a person.
    """
    status = status.strip().upper()
    if not status:
        return None
    return AMD_STATUS.get(status, AmdVerdict.NOT_SURE)


def fail_cause(reason: int, *, dial_status: str | None, cause: int, cancelled: bool) -> FailCause:
    """Why an Originate failed, from its Reason, the originate leg's DialStatus and the
    most telling Q.850 cause seen on the call's legs (0: none seen)."""
    if cancelled and reason in (REASON_FAILED, REASON_HANGUP):
        return FailCause.CANCELLED  # Reason 0 is what our own Hangup of a ringing call gives
    if reason == REASON_BUSY:
        return FailCause.BUSY
    if reason == REASON_CONGESTION:
        return FailCause.CONGESTION
    if reason == REASON_NO_ANSWER:
        return FailCause.NO_ANSWER
    if reason in (REASON_FAILED, REASON_HANGUP):
        if dial_status == "BUSY" or cause == CAUSE_BUSY:
            return FailCause.BUSY
        if dial_status == "CONGESTION" or cause in CAUSES_CONGESTION:
            return FailCause.CONGESTION
        if cause in CAUSES_NO_ANSWER or reason == REASON_HANGUP:
            return FailCause.NO_ANSWER
        return FailCause.CONGESTION  # unallocated, no such extension: the number is bad
    return FailCause.ERROR


def to_int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
