"""The variant-measuring tool (benchmarks/amd_variants.py) scores the shipped features
exactly as the training script does, and its candidate features are defined."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import amd_variants
from benchmarks.amd_train import trace_clip
from telephony.amd_corpus import load_manifest

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "amd-corpus" / "dev"


def test_extra_features_leave_the_shipped_trace_unchanged() -> None:
    clips = load_manifest(DEV)[::60]  # 7 clips across labels
    for clip in clips:
        ref = trace_clip(clip)
        t, ex = amd_variants.trace_with_extra(clip)
        assert np.array_equal(ref.x, t.x, equal_nan=True), clip.name
        assert np.array_equal(ref.hold, t.hold) and ref.event_frame == t.event_frame
        assert ex.shape == (t.x.shape[0], len(amd_variants.EXTRA))
        # Defined (finite) on every frame that has the shipped features, absent before.
        assert np.isfinite(ex[t.has]).all() and np.isnan(ex[~t.has]).all(), clip.name
        wide = amd_variants.with_columns([(t, ex)], ["pre_level_db", "bg_shape_step"])[0]
        assert wide.x.shape[1] == t.x.shape[1] + 2


def test_every_variant_names_known_columns() -> None:
    for name, v in amd_variants.VARIANTS.items():
        assert set(v.cols) <= set(amd_variants.EXTRA), name


def test_other_channel_band_limits_the_whole_call() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 2000, 8000).astype(np.int16)  # white noise, 1 s
    low = amd_variants.other_channel(x, "lp3000")
    assert low.dtype == np.int16 and low.size == x.size

    def share_above(y: np.ndarray, hz: float) -> float:
        spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
        return float(spec[int(hz) :].sum() / spec.sum())  # 1 Hz bins for 1 s

    assert share_above(low, 3500) < share_above(x, 3500) / 3


def test_variants_cli_rejects_unknown_names_and_bad_channels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        amd_variants.main(["no_such_variant"])
    assert info.value.code == 2 and "unknown variant" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        amd_variants.main(["--channel", "lpx", "shipped"])
    assert info.value.code == 2 and "--channel" in capsys.readouterr().err
