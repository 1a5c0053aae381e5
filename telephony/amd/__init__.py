"""Answering-machine detection: a pure, streaming detector and a port of Asterisk's AMD().

Everything in this package is pure (numpy/scipy only: no IO, no clock, no event loop).
Audio is 8 kHz mono signed 16-bit PCM; times are seconds of audio since the answer.
"""

from telephony.amd.detector import AmdDetector, DetectorResult, Verdict

__all__ = ["AmdDetector", "DetectorResult", "Verdict"]
