"""Reading call audio from WAV files for the detector (the one IO helper of AMD).

Only what the detector takes is accepted: RIFF/WAVE, PCM, 8000 Hz, mono, 16-bit, at
least one 20 ms frame. Anything else is a ``BadAudio`` naming the file and what is wrong,
never a silent resample and never a verdict on audio we cannot read.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from dialer.errors import DialerError
from telephony.amd.frames import FRAME_SAMPLES, SAMPLE_RATE, Samples


class BadAudio(DialerError):  # noqa: N818
    """An audio file the detector cannot take; names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def read_wav(path: str | Path) -> Samples:
    """Samples of an 8 kHz mono 16-bit PCM WAV file, as int16."""
    name = str(path)
    try:
        with wave.open(name, "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            n = w.getnframes()
            data = w.readframes(n)
    except FileNotFoundError:
        raise BadAudio(name, "no such file") from None
    except IsADirectoryError:
        raise BadAudio(name, "is a directory, not a WAV file") from None
    except (wave.Error, EOFError) as exc:
        raise BadAudio(name, f"not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise BadAudio(name, f"cannot read ({exc.strerror or exc})") from None
    if rate != SAMPLE_RATE:
        raise BadAudio(name, f"sample rate is {rate} Hz; the detector needs {SAMPLE_RATE} Hz")
    if channels != 1:
        raise BadAudio(name, f"{channels} channels; the detector needs mono")
    if width != 2:
        raise BadAudio(name, f"{8 * width}-bit samples; the detector needs 16-bit PCM")
    samples = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.int16)
    if samples.size < FRAME_SAMPLES:
        raise BadAudio(name, f"only {samples.size} samples: shorter than one 20 ms frame")
    return samples
