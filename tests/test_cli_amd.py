"""``dialer amd classify`` and ``dialer amd evaluate``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from dialer.cli import main

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "amd-corpus" / "dev"
KEYS = {
    "accuracy",
    "human_as_machine_rate",
    "machine_as_human_rate",
    "median_decision_s",
    "p95_decision_s",
    "per_label",
    "per_tag",
    "n",
}


def test_classify_prints_verdict_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["amd", "classify", str(DEV / "clips" / "dev-0030.wav")]) == 0
    out = capsys.readouterr().out
    assert "dev-0030.wav\tfax\tat " in out


def test_classify_bad_file_is_exit_2_and_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF....nonsense")
    assert main(["amd", "classify", str(bad)]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "x.wav" in cap.err and "not a PCM WAV" in cap.err


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    with (DEV / "manifest.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keep = [
        r for r in rows if r["file"] in {f"clips/dev-{n:04d}.wav" for n in (17, 19, 30, 84, 6, 8)}
    ]
    (tmp_path / "clips").mkdir()
    for r in keep:
        shutil.copy(DEV / r["file"], tmp_path / r["file"])
    with (tmp_path / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return tmp_path


@pytest.mark.parametrize("detector", ["engine", "asterisk"])
def test_evaluate_json_has_exactly_the_keys(
    small_corpus: Path, detector: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["amd", "evaluate", str(small_corpus), "--detector", detector, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == KEYS and data["n"] == 6
    assert data["per_label"]["fax"]["n"] == 1


def test_evaluate_text(small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["amd", "evaluate", str(small_corpus)]) == 0
    assert "accuracy on human+machine" in capsys.readouterr().out


def test_evaluate_bad_corpus_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["amd", "evaluate", str(tmp_path)]) == 2
    assert "manifest.csv" in capsys.readouterr().err
