"""What the called party does, for the AMI emulator: scripted outcomes and the traffic model.

A ``CallScript`` is the fate of one dialled number: how it ends up (``Outcome``) and
when (seconds). Defaults are the timings and AMD verdicts the real Asterisk produced
in ``shared/fixtures/asterisk-ami`` (the README's scenario table), so a test that
scripts ``CallScript(Outcome.HUMAN)`` gets the ``human_es`` call.

``TrafficModel`` draws scripts from a simulator scenario (``simulator/scenario.py``):
the same fate draw, ring, patience, detection-delay and talk distributions as
``simulator.telephony.SimTelephony``, from a seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from simulator.scenario import Scenario


class Outcome(StrEnum):
    """What the far end does. Comments name the fixture transcript each one reproduces."""

    HUMAN = "human"  # human_es: rings 2 s, answers, AMD HUMAN
    MACHINE = "machine"  # machine_es: voicemail, AMD MACHINE/LONGGREETING
    MACHINE_MESSAGE = "machine_message"  # machine_en_leave_msg: greeting + beep, MAXWORDS
    NO_ANSWER = "no_answer"  # noanswer: rings until the Originate Timeout, Reason 3
    BUSY = "busy"  # busy: Reason 5, Hangup causes 0 / 17
    CONGESTION = "congestion"  # congestion: Reason 8, causes 0 / 34
    UNALLOCATED = "unallocated"  # invalid_number: Reason 0, cause 1
    NONEXISTENT = "nonexistent"  # nonexistent_extension: Reason 0, no Dial events
    REJECTED = "rejected"  # not captured: far end hangs up while ringing, Reason 1
    ANSWER_HANGUP = "answer_hangup"  # answer_hangup: gone before AMD decides: HANGUP
    DEAD_AIR = "dead_air"  # deadair: silent frames, MACHINE/INITIALSILENCE
    DEAD_AIR_NOMEDIA = "dead_air_nomedia"  # deadair_nomedia: no frames, NOTSURE/TOOLONG
    FAX = "fax"  # as_fax: a fax machine answers (CED + V.21, dev-0030)
    SIT = "sit"  # a network announcement with special information tones answers


# Outcomes that never answer: OriginateResponse Failure.
FAILURES = frozenset(
    {
        Outcome.NO_ANSWER,
        Outcome.BUSY,
        Outcome.CONGESTION,
        Outcome.UNALLOCATED,
        Outcome.NONEXISTENT,
        Outcome.REJECTED,
    }
)


@dataclass(frozen=True, slots=True)
class _Defaults:
    ring: float
    amd_delay: float
    status: str
    cause: str
    hangup_after: float
    beep_after: float | None = None


# Seconds, measured on the fixtures (times relative to the Originate / the answer).
_DEFAULTS: dict[Outcome, _Defaults] = {
    # human_es: answer at +2.003, verdict 1.866 s later, callee hangs up 14.116 s after answer
    Outcome.HUMAN: _Defaults(2.0, 1.866, "HUMAN", "HUMAN-805-800", 14.116),
    # machine_es: verdict 2.639 s after answer; the machine records for ~20 s at most
    Outcome.MACHINE: _Defaults(0.0, 2.639, "MACHINE", "LONGGREETING-1500-1500", 20.0),
    # machine_en_leave_msg: verdict at 3.215 s; WaitForSilence returned at 11.835 s
    Outcome.MACHINE_MESSAGE: _Defaults(0.0, 3.215, "MACHINE", "MAXWORDS-3-2", 30.0, 11.835),
    Outcome.NO_ANSWER: _Defaults(math.inf, 0.0, "", "", 0.0),
    Outcome.BUSY: _Defaults(0.0, 0.0, "", "", 0.0),
    Outcome.CONGESTION: _Defaults(0.0, 0.0, "", "", 0.0),
    Outcome.UNALLOCATED: _Defaults(0.0, 0.0, "", "", 0.0),
    Outcome.NONEXISTENT: _Defaults(0.0, 0.0, "", "", 0.0),
    Outcome.REJECTED: _Defaults(2.0, 0.0, "", "", 0.0),
    # answer_hangup: "¿Hola?" then Hangup 1.127 s after the answer, before AMD decides
    Outcome.ANSWER_HANGUP: _Defaults(0.0, 1.866, "HUMAN", "HUMAN-805-800", 1.127),
    # deadair: MACHINE/INITIALSILENCE at 2.978 s; the callee plays 30 s of silence
    Outcome.DEAD_AIR: _Defaults(0.0, 2.978, "MACHINE", "INITIALSILENCE-2500-2500", 30.0),
    # deadair_nomedia: NOTSURE/TOOLONG-4900 at 5.010 s; Wait(12) then hang up
    Outcome.DEAD_AIR_NOMEDIA: _Defaults(0.0, 5.010, "NOTSURE", "TOOLONG-4900", 12.0),
    # as_fax was captured over AudioSocket only, so AMD()'s verdict on a fax is not in the
    # fixtures: these are the faithful AMD() port's (telephony/amd/asterisk_amd.py) on the
    # same clip, dev-0030: MACHINE/LONGGREETING at 2.06 s. A fax machine hangs up after
    # its CED/CNG retries (~35 s, ITU-T T.30 T1); an announcement ends in ~10 s.
    Outcome.FAX: _Defaults(0.0, 2.06, "MACHINE", "LONGGREETING-1500-1500", 35.0),
    # SIT: the port on dev-0009 (the corpus's first SIT clip): MACHINE/LONGGREETING at 2.0 s.
    Outcome.SIT: _Defaults(0.0, 2.0, "MACHINE", "LONGGREETING-1500-1500", 10.0),
}


@dataclass(frozen=True, slots=True)
class CallScript:
    """The far end of one call. Times in seconds of modelled time (see ``time_scale``).

    - ``ring``: from the Originate to the answer (or to the busy/congestion/failure
      signal). ``None``: the fixture's value. Ringing events are sent when it is > 0.
      A ring longer than the Originate ``Timeout`` is a no-answer (Reason 3).
    - ``amd_delay``: from the answer to the AMD verdict (or to ``AudioSocketDone``).
    - ``amd_status``/``amd_cause``: the verdict (``HUMAN``, ``MACHINE``, ``NOTSURE``);
      ``None``: the outcome's fixture verdict.
    - ``hangup_after``: from the answer until the far end hangs up, wherever the call is
      (a person's patience, a machine's recording limit).
    - ``talk``: once connected to an agent (bridge or agent conference), the person
      talks this long and hangs up; ``None`` keeps ``hangup_after``.
    - ``beep_after``: from the answer until the greeting's beep is over (what
      ``WaitForSilence`` waits for before the machine message); ``None``: 1.5 s.
    - ``language``: the channels' ``Language`` from the answer on (machine_es sets
      ``CHANNEL(language)=es`` before answering; Local copies it to ``;1``).
    - ``clip``: the corpus clip the far end plays into an AudioSocket stream (the
      manifest's ``file``, e.g. ``clips/dev-0017.wav``, or its stem ``dev-0017``);
      ``None``: the emulator's ``CallAudio`` picks one matching ``outcome`` (seeded).
      Only used when the emulator has audio (``simulator.ami_audio``).
    """

    outcome: Outcome
    ring: float | None = None
    amd_delay: float | None = None
    amd_status: str | None = None
    amd_cause: str | None = None
    hangup_after: float | None = None
    talk: float | None = None
    beep_after: float | None = None
    language: str = "en"
    clip: str | None = None

    def __post_init__(self) -> None:
        if self.clip is not None and not self.clip.strip():
            raise ValueError("CallScript.clip must name a corpus clip, got an empty string")
        for name in ("ring", "amd_delay", "hangup_after", "talk", "beep_after"):
            value = getattr(self, name)
            if value is not None and (math.isnan(value) or value < 0):
                raise ValueError(f"CallScript.{name} must be >= 0 seconds, got {value!r}")

    def resolved(self) -> CallScript:
        """A copy with every ``None`` replaced by the outcome's fixture default."""
        d = _DEFAULTS[self.outcome]
        return replace(
            self,
            ring=d.ring if self.ring is None else self.ring,
            amd_delay=d.amd_delay if self.amd_delay is None else self.amd_delay,
            amd_status=d.status if self.amd_status is None else self.amd_status,
            amd_cause=d.cause if self.amd_cause is None else self.amd_cause,
            hangup_after=d.hangup_after if self.hangup_after is None else self.hangup_after,
            beep_after=d.beep_after if self.beep_after is None else self.beep_after,
        )


# AMD causes used when the traffic model flips a verdict (the captured ones).
_HUMAN_CAUSE = "HUMAN-805-800"
_MACHINE_CAUSE = "MAXWORDS-3-2"


class TrafficModel:
    """Draws a ``CallScript`` per dial from a scenario's traffic, AMD and talk model.

    Semantics follow ``simulator.telephony`` (SCENARIOS.md): the fate is drawn at dial
    time from the profile values in force at ``t`` (seconds since the shift started);
    busy/failed end after ``busy_after``/``failed_after``; a person hangs up after
    ``patience`` unless connected, then talks for ``talk``; AMD misclassifies with
    ``human_as_machine``/``machine_as_human``; a machine stays ``machine_hold``.
    """

    def __init__(self, scenario: Scenario, *, seed: int | None = None) -> None:
        self._sc = scenario
        self._rng = np.random.default_rng(scenario.seed if seed is None else seed)

    def draw(self, t: float) -> CallScript:
        tr, amd, rng = self._sc.traffic, self._sc.amd, self._rng
        u = float(rng.random())
        human, machine = tr.human.value_at(t), tr.machine.value_at(t)
        if u < human + machine:
            is_human = u < human
            ring = tr.ring.sample(rng)
            decision = amd.decision.sample(rng)
            if is_human:
                flip = float(rng.random()) < amd.human_as_machine
                status, cause = ("MACHINE", _MACHINE_CAUSE) if flip else ("HUMAN", _HUMAN_CAUSE)
                patience = tr.patience.sample(rng)
                talk = self._sc.agents.talk.sample(rng)
                outcome = Outcome.HUMAN if patience >= decision else Outcome.ANSWER_HANGUP
                return CallScript(outcome, ring, decision, status, cause, patience, talk)
            flip = float(rng.random()) < amd.machine_as_human
            status, cause = ("HUMAN", _HUMAN_CAUSE) if flip else ("MACHINE", _MACHINE_CAUSE)
            hold = amd.machine_hold.sample(rng)
            # A machine records until its limit; if it is taken for a person, it holds
            # the agent for machine_hold: both are modelled by hangup_after.
            return CallScript(Outcome.MACHINE, ring, decision, status, cause, decision + hold)
        edge = human + machine + tr.busy
        if u < edge:
            return CallScript(Outcome.BUSY, ring=tr.busy_after.sample(rng))
        if u < edge + tr.failed:
            return CallScript(Outcome.CONGESTION, ring=tr.failed_after.sample(rng))
        return CallScript(Outcome.NO_ANSWER)
