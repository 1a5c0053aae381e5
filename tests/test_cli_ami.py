"""``dialer telephony check`` and ``dialer simulate --backend ami-emulator``, against the
AMI emulator on 127.0.0.1 (run on its own event loop in a thread: the CLI runs its own).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.cli import main
from simulator.ami_calls import DialplanConfig
from simulator.ami_emulator import AmiEmulator
from simulator.ami_scripts import CallScript, Outcome

SECRET = "cli-s3cret-xyz"
DEMO = Path(__file__).resolve().parents[1] / "simulator" / "scenarios" / "demo.toml"


class EmulatorThread:
    def __init__(self, **kwargs: object) -> None:
        self.loop = asyncio.new_event_loop()
        self.emu = AmiEmulator(secret=SECRET, **kwargs)  # type: ignore[arg-type]
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.emu.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    def call(self, fn: object, *args: object) -> None:
        self.loop.call_soon_threadsafe(fn, *args)  # type: ignore[arg-type]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emu.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    e = EmulatorThread(
        time_scale=0.05,
        dialplan=DialplanConfig(engine_routing=True),
        default_script=CallScript(Outcome.HUMAN),
    )
    yield e
    e.stop()


def test_check_logs_in_pings_and_places_a_test_call(
    emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIALER_AMI_SECRET", SECRET)
    emu.call(emu.emu.agent_login, "1001")
    status = main([
        "telephony", "check", "--port", str(emu.emu.port), "--call", "+5215512345678",
        "--trunk", "PJSIP/{number}@carrier",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    assert "ok   logged in as 'dialer'" in out
    assert "ok   ping" in out
    assert "agents in their conference: 1001" in out
    assert "test call to 5215512345678 via PJSIP/5215512345678@carrier" in out
    assert "AMD: human" in out and "hung up" in out
    assert SECRET not in out


def test_check_wrong_secret_fails_with_a_hint_and_no_secret(
    emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIALER_AMI_SECRET", "wrong-secret-123")
    status = main(["telephony", "check", "--port", str(emu.emu.port)])
    out = capsys.readouterr().out
    assert status == 1
    assert f"FAIL AMI login to 127.0.0.1:{emu.emu.port} as 'dialer' refused" in out
    assert "-> wrong username or secret" in out
    assert "wrong-secret-123" not in out


def test_check_unreachable_names_host_and_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIALER_AMI_SECRET", SECRET)
    e = EmulatorThread()
    port = e.emu.port
    e.stop()  # nothing listens there any more
    status = main(["telephony", "check", "--port", str(port)])
    out = capsys.readouterr().out
    assert status == 1
    assert f"cannot reach AMI at 127.0.0.1:{port}" in out
    assert "-> AMI is not listening there" in out


def test_check_bad_input_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DIALER_AMI_SECRET", raising=False)
    assert main(["telephony", "check"]) == 2
    assert "DIALER_AMI_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("DIALER_AMI_SECRET", SECRET)
    assert main(["telephony", "check", "--call", "55 1234 5678"]) == 2
    assert "not an E.164 number" in capsys.readouterr().err
    assert main(["telephony", "check", "--trunk", "PJSIP/{num}@x"]) == 2
    assert "{number}" in capsys.readouterr().err


def test_check_reads_the_ami_section_of_a_config_file(
    emu: EmulatorThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PBX_SECRET", SECRET)
    cfg = tmp_path / "dialer.toml"
    cfg.write_text(
        f"""
[ami]
username = "dialer"
secret_env = "PBX_SECRET"
connect_timeout = 2
[[ami.server]]
name = "pbx1"
port = {emu.emu.port}
[[ami.server.trunk]]
name = "carrier"
template = "PJSIP/{{number}}@carrier"
channels = 30
""",
        encoding="utf-8",
    )
    assert main(["telephony", "check", "--config", str(cfg)]) == 0
    assert f"AMI pbx1 (127.0.0.1:{emu.emu.port})" in capsys.readouterr().out
    cfg.write_text("[ami]\nsecret_env = 'NOPE_NOT_SET'\n", encoding="utf-8")
    assert main(["telephony", "check", "--config", str(cfg)]) == 2
    assert "ami.server[0].secret_env" in capsys.readouterr().err


def test_simulate_through_the_ami_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "short.toml"
    text = DEMO.read_text(encoding="utf-8").replace("duration = 10800", "duration = 240")
    text = text.replace("schedule = [[5400, 16], [6300, 20]]", "")
    scenario.write_text(text, encoding="utf-8")
    status = main([
        "simulate", str(scenario), "--backend", "ami-emulator", "--speed", "60", "--agents",
        "4", "--json",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out)
    assert result["backend"] == "ami-emulator"
    assert result["dials"] > 10
    assert result["adapter"]["originates"] == result["dials"]
    assert sum(result["outcomes"].values()) + result["in_flight_at_end"] == result["dials"]


def test_the_example_ami_section_uncommented_gives_the_defaults() -> None:
    import tomllib  # noqa: PLC0415

    from telephony.ami_config import servers_from_config  # noqa: PLC0415
    from telephony.ami_settings import AmiSettings  # noqa: PLC0415

    text = (Path(__file__).resolve().parents[1] / "config.example.toml").read_text("utf-8")
    section = text[text.index("# --- ami ---") :].splitlines()[3:]
    plain = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in section)
    (server,) = servers_from_config(
        tomllib.loads(plain)["ami"], source="example", env={"DIALER_AMI_SECRET": "x"}
    )
    defaults = AmiSettings(secret="x", name="pbx1")
    for key in ("outbound_context", "events", "ping_interval", "reconnect_max", "login_context"):
        assert getattr(server, key) == getattr(defaults, key)
    assert server.trunks[0].template == "PJSIP/{number}@carrier"
