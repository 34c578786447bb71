"""The slash command payloads obey Discord's rules, and `commands --json` needs no token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from bot.run.app import command_payloads
from cogs.video.menus import MESSAGE_ACTIONS
from tests.support import ROOT

NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
ATTACHMENT, SUB_COMMAND, SUB_COMMAND_GROUP = 11, 1, 2
SLASH, MESSAGE_MENU = 1, 3  # application command types
# The message menus the catalogue offers (cogs/video/menus.py): these two, and any added later.
MENUS = {str(action.name) for action in MESSAGE_ACTIONS if action.offered()}
assert {"Animate this image", "Continue this clip"} <= MENUS


@pytest.fixture
async def every_payload() -> list[dict]:
    return await command_payloads()


@pytest.fixture
def payloads(every_payload: list[dict]) -> list[dict]:
    """The slash commands (the message menus have no options or descriptions)."""
    return [p for p in every_payload if p.get("type", SLASH) == SLASH]


def _walk(node: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    yield path or node["name"], node
    for option in node.get("options", []):
        if option["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
            yield from _walk(option, f"{path or node['name']} {option['name']}")


def _longest(node: dict, field: str) -> int:
    """A field's length as Discord counts it: its longest localisation, the default included."""
    texts = [node.get(field, ""), *(node.get(f"{field}_localizations") or {}).values()]
    return max(len(text) for text in texts)


def _characters(node: dict) -> int:
    """Discord counts names, descriptions and choice names/values towards 8,000 per command."""
    total = _longest(node, "name") + _longest(node, "description")
    for choice in node.get("choices", []):
        total += _longest(choice, "name") + len(str(choice["value"]))
    return total + sum(_characters(option) for option in node.get("options", []))


async def test_top_level_commands_and_permissions(every_payload: list[dict]) -> None:
    by_name = {p["name"]: p for p in every_payload}
    assert set(by_name) == {"video", "videoadmin"} | MENUS
    assert by_name["videoadmin"]["default_member_permissions"] == 1 << 5  # Manage Server
    assert by_name["video"].get("default_member_permissions") is None
    for name in MENUS:
        assert by_name[name]["type"] == MESSAGE_MENU
        assert by_name[name].get("default_member_permissions") is None, "for every member"
    for payload in every_payload:
        server_only = payload.get("dm_permission") is False or payload.get("contexts") == [0]
        assert server_only, f"{payload['name']} must be usable in servers only"


async def test_every_name_description_and_option_follows_discords_rules(
    payloads: list[dict],
) -> None:
    for payload in payloads:
        assert _characters(payload) <= 8000
        for path, node in _walk(payload):
            assert NAME.match(node["name"]) and node["name"] == node["name"].lower(), path
            assert 1 <= len(node["description"]) <= 100, path
            options = node.get("options", [])
            assert len(options) <= 25, path
            assert len({o["name"] for o in options}) == len(options), path
            leaves = [o for o in options if o["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP)]
            required = [o.get("required", False) for o in leaves]
            assert required == sorted(required, reverse=True), f"{path}: required options first"
            for option in leaves:
                assert NAME.match(option["name"]), f"{path} {option['name']}"
                assert 1 <= len(option["description"]) <= 100, f"{path} {option['name']}"
                assert len(option.get("choices", [])) <= 25, f"{path} {option['name']}"


async def test_every_media_type_is_an_attachment_option(payloads: list[dict]) -> None:
    video = next(p for p in payloads if p["name"] == "video")
    commands = {o["name"]: {x["name"]: x for x in o.get("options", [])} for o in video["options"]}
    assert set(commands) >= {
        "animate",
        "interpolate",
        "continue",
        "effect",
        "quota",
        "jobs",
        "job",
        "cancel",
        "models",
    }
    for command, option in [
        ("animate", "image"),
        ("animate", "audio"),
        ("interpolate", "first"),
        ("interpolate", "last"),
        ("interpolate", "audio"),
        ("continue", "clip"),
        ("continue", "last_frame"),
        ("effect", "image"),
    ]:
        assert commands[command][option]["type"] == ATTACHMENT, f"{command} {option}"
    assert commands["animate"]["duration"]["min_value"] == 2
    assert commands["animate"]["duration"]["max_value"] == 15
    assert {c["value"] for c in commands["interpolate"]["model"]["choices"]} == {
        "wan2.7-i2v",
        "wan2.2-kf2v-flash",
        "wanx2.1-kf2v-plus",
    }
    assert {c["value"] for c in commands["animate"]["model"]["choices"]} == {
        "wan2.7-i2v",
        "wan2.6-i2v-flash",
        "wan2.6-i2v",
    }, "the kf2v models need a last frame or a template"
    assert {c["value"] for c in commands["animate"]["resolution"]["choices"]} == {"720P", "1080P"}
    assert commands["continue"]["duration"]["min_value"] == 3, "the duration counts a 2 s clip"
    assert [c["value"] for c in commands["effect"]["template"]["choices"]] == [
        "mech1",
        "mech2",
        "hanfu-1",
        "solaron",
        "magazine",
    ]


def without_a_token(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGUMENTS` as a person would, with no Discord token in the environment."""
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "WANBOT_DISCORD_TOKEN"}
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_message_menus_keep_discords_rules(every_payload: list[dict]) -> None:
    """A menu's name may have capitals and spaces, 1–32 characters in every language."""
    menus = [p for p in every_payload if p["type"] == MESSAGE_MENU]
    assert {p["name"] for p in menus} == MENUS
    for menu in menus:
        assert "options" not in menu and not menu.get("description")
        names = [menu["name"], *menu["name_localizations"].values()]
        assert all(1 <= len(name) <= 32 for name in names), names
        assert {"ja", "ko", "zh-CN", "zh-TW", "de", "fr"} <= set(menu["name_localizations"])


def test_commands_json_runs_without_a_token() -> None:
    done = without_a_token("commands", "--json")
    assert done.returncode == 0, done.stderr
    assert {c["name"] for c in json.loads(done.stdout)} == {"video", "videoadmin"} | MENUS


async def test_setup_hook_wires_cogs_buttons_and_engine(tmp_path: Path) -> None:
    import aiohttp
    from pydantic import SecretStr

    from bot.dashscope import DashScopeClient
    from bot.run.app import Services, WanBot
    from bot.run.settings import Settings
    from cogs.views import DYNAMIC_ITEMS
    from storage.connect import open_database

    settings = Settings(
        database_path=tmp_path / "db.sqlite3",
        spool_dir=tmp_path / "spool",
        heartbeat_path=tmp_path / "beat",
    )
    async with (
        aiohttp.ClientSession() as session,
        await open_database(settings.database_target()) as db,
    ):
        client = DashScopeClient(
            session, api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1"
        )
        services = Services.create(settings, session, db, client)
        bot = WanBot(settings, services)
        registered: list[type] = []
        real_add = bot.add_dynamic_items

        def recording(*items: type) -> None:
            registered.extend(items)
            real_add(*items)

        bot.add_dynamic_items = recording  # type: ignore[method-assign]
        await bot.setup_hook()
        try:
            assert set(bot.cogs) == {"VideoCog", "AdminCog", "VideoMenus"}
            menus = bot.tree.get_commands(type=discord.AppCommandType.message)
            assert {menu.name for menu in menus} == MENUS
            assert set(registered) == set(DYNAMIC_ITEMS)
            assert services.engine is not None
        finally:
            await bot.close()


def test_run_without_a_token_says_so_in_one_line() -> None:
    done = without_a_token("run")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "error: No Discord token: set DISCORD_TOKEN (see the README's set-up steps)."
    )
