"""``dialer rules windows``: a country's windows, open or closed at a moment, and when next.

The command group is registered in ``dialer/cli.py`` at merge (``_command_groups``); the
tests drive it through its own ``add_commands`` on a fresh parser, as ``dialer`` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dialer import cli_rules


def main(argv: list[str]) -> int:
    """Parse ``argv`` as ``dialer`` would with the rules group registered; run it."""
    parser = argparse.ArgumentParser(prog="dialer")
    cli_rules.add_commands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    status: int = args.handler(args)
    return status


def test_colombia_on_a_saturday_afternoon_before_a_festivo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(
        ["rules", "windows", "co", "--zone", "America/Bogota", "--at", "2026-01-10T15:00-05:00"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "CO: CO default: Ley 2300 de 2023 art. 3" in out
    assert "  sat: 08:00-15:00" in out and "  sun: closed" in out
    assert "(America/Bogota): closed" in out
    assert "next opening: Tue 2026-01-13 07:00 -05 = 2026-01-13 12:00 UTC" in out
    assert "holiday (closed): Mon 2026-01-12" in out


def test_us_spring_forward_from_a_config_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "dialer.toml"
    cfg.write_text('[rules.windows.US]\nsun = ["09:00-12:00"]\n', encoding="utf-8")
    status = main(
        [
            "rules",
            "windows",
            "US",
            "--zone",
            "America/New_York",
            "--at",
            "2026-03-07T21:00-05:00",
            "--config",
            str(cfg),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "  mon: closed" in out and "  sun: 09:00-12:00" in out
    assert "next opening: Sun 2026-03-08 09:00 EDT = 2026-03-08 13:00 UTC" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rules", "windows", "USA"], "ISO alpha-2"),
        (["rules", "windows", "US", "--zone", "Mars/Base"], "unknown IANA time zone"),
        (["rules", "windows", "US", "--zone", "America/Chicago", "--at", "noon"], "--at"),
        (
            ["rules", "windows", "US", "--zone", "America/Chicago", "--at", "2026-06-09T10:00"],
            "offset",
        ),
    ],
)
def test_bad_input_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "dialer.toml"
    cfg.write_text('[rules.windows.US]\nmon = ["21:00-08:00"]\n', encoding="utf-8")
    assert main(["rules", "windows", "US", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}: rules.windows.US:" in err and "before" in err
    assert main(["rules", "windows", "US", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "(file)" in capsys.readouterr().err
