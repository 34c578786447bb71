"""The command line as a newcomer meets it: `-h` shows defaults, where the key comes from and how
to try it for free; `commands` prints JSON as it is; `run --simulator` keeps its jobs apart."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.run.cli import EXIT_OK, main
from bot.run.settings import Settings
from cogs.video.menus import MESSAGE_ACTIONS
from tests.support.bot_process import run_until_ready_then
from tests.support.fakediscord import FakeDiscord


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "-h"], Settings())
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines where it likes


def test_the_help_names_the_key_and_shows_how_to_try_it_for_free(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text(capsys)
    assert "DASHSCOPE_API_KEY" in text and "DISCORD_TOKEN" in text
    assert "python -m bot run --simulator" in text
    assert "python -m bot simulator" in text and "DASHSCOPE_BASE_URL=http://127.0.0.1:8765" in text
    generate = help_text(capsys, "generate")
    assert "DASHSCOPE_API_KEY" in generate and "python -m bot simulator" in generate


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("usage", ["(default: current)", "(default: en-US)"]),
        ("demo", ["(default: output/demo)"]),
        ("simulator", ["(default: 8765)", "(default: 5.0)", "(default: 20.0)"]),
    ],
)
def test_each_option_shows_its_default(
    capsys: pytest.CaptureFixture[str], command: str, shown: list[str]
) -> None:
    text = help_text(capsys, command)
    for default in shown:
        assert default in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_commands_prints_the_json_without_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands"], Settings()) == EXIT_OK
    plain = capsys.readouterr().out
    names = {command["name"] for command in json.loads(plain)}
    assert {"video", "videoadmin", "Animate this image", "Continue this clip"} <= names
    assert names - {"video", "videoadmin"} == {str(a.name) for a in MESSAGE_ACTIONS if a.offered()}
    assert main(["commands", "--json"], Settings()) == EXIT_OK  # as scripts and the README use it
    assert capsys.readouterr().out == plain


def test_commands_list_is_one_line_per_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["commands", "--list"], Settings()) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("/video animate: ") for line in lines)
    assert any(line.startswith("/videoadmin quota ") for line in lines)
    assert "Apps → Animate this image: a message's menu" in lines
    assert all(line.startswith(("/", "Apps → ")) for line in lines)


async def test_run_with_the_simulator_keeps_its_jobs_out_of_the_real_database(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The simulator's free videos and their spool files never mix with the real bot's."""
    data = tmp_path / "data"
    real = data / "wanbot.sqlite3"
    code, text = await run_until_ready_then(fake, tmp_path, signal.SIGINT, "--simulator")
    assert code == 0, text
    assert not real.exists(), text
    assert not (data / "spool").exists()
    own = data / "wanbot-simulator.sqlite3"
    assert f"its own database {own}" in text
    with sqlite3.connect(own) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] > 0  # migrated: it was used
