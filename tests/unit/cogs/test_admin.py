"""/videoadmin: run-time moderator checks, every quota and settings change, and the command tree.

Commands are called as `await cog.cmd.callback(cog, interaction, ...)` on a real WanBot with real
stores on a SQLite file; errors go through `report`, as WanTree.on_error sends them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.errors import WanbotError
from bot.domain.guild import GuildSettings
from bot.domain.quota import Period
from bot.engine.virtual import VirtualClock
from bot.run.app import WanBot
from bot.run.services import Services
from bot.run.settings import Settings
from cogs.admin import AdminCog
from cogs.render.moderator import NOT_MODERATOR as NOT_MODERATOR_TEXT
from storage.connect import open_database
from tests.support.admin import ALICE, BOB, GUILD, HELPER, MOD, WEDNESDAY, moderator, run, use
from tests.support.discord_fakes import interaction, member

NOT_MODERATOR = str(NOT_MODERATOR_TEXT)
MOD_ROLE, VIP_ROLE = 500, 600

pytestmark = pytest.mark.clock_at(WEDNESDAY)  # the `clock` fixture starts then


def role(role_id: int) -> discord.Role:
    fake = mock.create_autospec(discord.Role, instance=True, spec_set=True)
    fake.id = role_id
    fake.mention = f"<@&{role_id}>"
    fake.is_default.return_value = role_id == GUILD
    return fake


def channel(channel_id: int) -> discord.TextChannel:
    fake = mock.create_autospec(discord.TextChannel, instance=True, spec_set=True)
    fake.id = channel_id
    fake.mention = f"<#{channel_id}>"
    return fake


async def moderator_rows(bot: WanBot) -> list[tuple[str, int | None, int | None]]:
    """Ledger rows written by people (not by reservations), oldest first: (kind, user, actor)."""
    rows = await bot.services.quotas.ledger(GUILD)
    return [(r.kind, r.user_id, r.actor_id) for r in reversed(rows) if r.job_id is None]


async def allowance(bot: WanBot, user_id: int, *roles: int) -> Any:
    return await bot.services.quotas.allowance(guild_id=GUILD, user_id=user_id, role_ids=roles)


# -- who may use it ---------------------------------------------------------------------------


def every_command(cog: AdminCog) -> dict[str, tuple[app_commands.Command, dict[str, Any]]]:
    """Each /videoadmin command with valid options, keyed by its full name."""
    alice = member(ALICE)
    return {
        "videoadmin quota show": (cog.quota_show, {"member": alice}),
        "videoadmin quota set": (cog.quota_set, {"member": alice, "seconds": 5}),
        "videoadmin quota grant": (cog.quota_grant, {"member": alice, "seconds": 5}),
        "videoadmin quota reset": (cog.quota_reset, {"member": alice}),
        "videoadmin quota block": (cog.quota_block, {"member": alice}),
        "videoadmin quota unblock": (cog.quota_unblock, {"member": alice}),
        "videoadmin quota role": (cog.quota_role, {"role": role(VIP_ROLE), "seconds": 5}),
        "videoadmin quota default": (cog.quota_default, {"seconds": 5, "period": "day"}),
        "videoadmin quota budget": (cog.quota_budget, {"seconds": 5}),
        "videoadmin quota usage": (cog.quota_usage, {}),
        "videoadmin settings show": (cog.settings_show, {}),
        "videoadmin settings channel_add": (cog.settings_channel_add, {"channel": channel(5)}),
        "videoadmin settings channel_remove": (
            cog.settings_channel_remove,
            {"channel": channel(5)},
        ),
        "videoadmin settings channels_clear": (cog.settings_channels_clear, {}),
        "videoadmin settings banned_words": (
            cog.settings_banned_words,
            {"action": "add", "words": "gore"},
        ),
        "videoadmin settings defaults": (cog.settings_defaults, {"model": "wan2.7-i2v"}),
        "videoadmin settings models": (
            cog.settings_models,
            {"action": "hide", "model": "wan2.6-i2v"},
        ),
        "videoadmin settings watermark": (cog.settings_watermark, {"forced": True}),
        "videoadmin settings private_mode": (cog.settings_private_mode, {"allowed": True}),
        "videoadmin settings longest_duration": (cog.settings_longest_duration, {"seconds": 5}),
        "videoadmin settings moderator_role": (cog.settings_moderator_role, {"role": role(1)}),
        "videoadmin settings language": (cog.settings_language, {"language": "ja"}),
    }


def test_the_refusal_table_covers_every_command(cog: AdminCog) -> None:
    names = {
        c.qualified_name for c in cog.walk_app_commands() if isinstance(c, app_commands.Command)
    }
    assert names == set(every_command(cog))


async def test_a_non_moderator_is_refused_by_every_command(bot: WanBot, cog: AdminCog) -> None:
    # Discord would hide /videoadmin from them, but a server can change that in its settings.
    outsider = member(BOB, role_ids=(VIP_ROLE,))
    await bot.services.guild_settings.update(GUILD, moderator_role_id=MOD_ROLE)
    for name, (command, options) in every_command(cog).items():
        reply = await run(command, cog, outsider, **options)
        assert reply == NOT_MODERATOR, name
    assert await bot.services.quotas.ledger(GUILD) == []
    assert await bot.services.guild_settings.get(GUILD) == GuildSettings(
        GUILD, moderator_role_id=MOD_ROLE
    )
    assert (await allowance(bot, ALICE)).base_seconds == 60


async def test_the_moderator_role_works_without_manage_server(bot: WanBot, cog: AdminCog) -> None:
    await bot.services.guild_settings.update(GUILD, moderator_role_id=MOD_ROLE)
    helper = member(HELPER, role_ids=(MOD_ROLE,))
    reply = await run(cog.quota_grant, cog, helper, member=member(ALICE), seconds=30)
    assert reply.startswith("Granted <@11> 30 s for this period: they have 90 s left")
    assert await moderator_rows(bot) == [("grant", ALICE, HELPER)]
    # Who moderates is for those Discord trusts with the server.
    reply = await run(cog.settings_moderator_role, cog, helper, role=role(VIP_ROLE))
    assert reply == "Only members with Manage Server can change the moderator role."
    assert (await bot.services.guild_settings.get(GUILD)).moderator_role_id == MOD_ROLE


async def test_outside_a_server_nothing_runs(cog: AdminCog) -> None:
    fake = interaction(moderator(), guild_id=None)
    with pytest.raises(WanbotError, match="only in a server"):
        await cog.quota_usage.callback(cog, fake)


# -- quotas -----------------------------------------------------------------------------------


async def test_set_then_clear_an_override(bot: WanBot, cog: AdminCog) -> None:
    alice = member(ALICE)
    reply = await run(cog.quota_set, cog, member=alice, seconds=120)
    assert reply == "<@11> now has 120 s per week (was the server default, 60 s)."
    after = await allowance(bot, ALICE)
    assert (after.base_seconds, after.source) == (120, "override")

    reply = await run(cog.quota_set, cog, member=alice, seconds=0)
    assert reply == "<@11> now has 0 s per week (was their own 120 s)."
    assert (await allowance(bot, ALICE)).remaining_seconds == 0

    reply = await run(cog.quota_set, cog, member=alice)
    assert reply == (
        "<@11> has no allowance of their own now: they get the server default, 60 s per week "
        "(was their own 0 s)."
    )
    assert (await allowance(bot, ALICE)).source == "default"
    assert await moderator_rows(bot) == [("set_override", ALICE, MOD)] * 3


async def test_grant_adds_seconds_for_this_period(bot: WanBot, cog: AdminCog) -> None:
    reply = await run(cog.quota_grant, cog, member=member(ALICE), seconds=45, reason="  contest ")
    assert reply.startswith("Granted <@11> 45 s for this period: they have 105 s left until <t:")
    after = await allowance(bot, ALICE)
    assert (after.granted_seconds, after.remaining_seconds) == (45, 105)
    [row] = await bot.services.quotas.ledger(GUILD)
    assert (row.kind, row.seconds, row.actor_id, row.reason) == ("grant", 45, MOD, "contest")


async def test_reset_forgives_and_says_how_much(bot: WanBot, cog: AdminCog) -> None:
    await use(bot, ALICE, 10, billed=10)
    await use(bot, ALICE, 15, billed=12)
    assert (await allowance(bot, ALICE)).remaining_seconds == 38
    reply = await run(cog.quota_reset, cog, member=member(ALICE), reason="bad results")
    assert reply == "Forgave the 22 s <@11> used this period: they have 60 s left."
    assert (await allowance(bot, ALICE)).remaining_seconds == 60
    assert await moderator_rows(bot) == [("reset", ALICE, MOD)]

    reply = await run(cog.quota_reset, cog, member=member(ALICE))
    assert reply == "<@11> had used nothing this period to forgive: they have 60 s left."


async def test_block_and_unblock(bot: WanBot, cog: AdminCog) -> None:
    alice = member(ALICE)
    reply = await run(cog.quota_unblock, cog, member=alice)
    assert reply == "<@11> is not blocked; nothing changed."
    assert await moderator_rows(bot) == []

    reply = await run(cog.quota_block, cog, member=alice, reason="spam")
    assert reply == "<@11> can no longer make videos here: spam."
    blocked = await allowance(bot, ALICE)
    assert blocked.blocked and blocked.remaining_seconds == 0 and blocked.block_reason == "spam"

    # An override set while blocked is kept, and the reply says the block still stands.
    reply = await run(cog.quota_set, cog, member=alice, seconds=30)
    assert reply.endswith(
        "They are still blocked: `/videoadmin quota unblock` lets them make videos."
    )

    reply = await run(cog.quota_set, cog, member=alice)
    assert reply.startswith("<@11> has no allowance of their own now. They are still blocked")
    await run(cog.quota_set, cog, member=alice, seconds=30)

    reply = await run(cog.quota_unblock, cog, member=alice)
    assert reply == "<@11> can make videos again: 30 s left this period."
    assert not (await allowance(bot, ALICE)).blocked
    assert await moderator_rows(bot) == [
        ("block", ALICE, MOD),
        *[("set_override", ALICE, MOD)] * 3,
        ("unblock", ALICE, MOD),
    ]


async def test_role_allowance_set_and_removed(bot: WanBot, cog: AdminCog) -> None:
    vip = role(VIP_ROLE)
    reply = await run(cog.quota_role, cog, role=vip, seconds=200)
    assert reply == "<@&600> now gives 200 s per week (was nothing of its own)."
    after = await allowance(bot, ALICE, VIP_ROLE)
    assert (after.base_seconds, after.source) == (200, "role:600")
    assert (await allowance(bot, BOB)).base_seconds == 60

    reply = await run(cog.quota_role, cog, role=vip, seconds=30)
    assert reply.endswith("It only matters above the server default (60 s).")

    reply = await run(cog.quota_role, cog, role=vip)
    assert reply == "<@&600> no longer gives an allowance of its own (was 30 s)."
    assert (await allowance(bot, ALICE, VIP_ROLE)).source == "default"
    reply = await run(cog.quota_role, cog, role=vip)
    assert reply == "<@&600> gives no allowance of its own; nothing changed."
    assert await moderator_rows(bot) == [("set_role", None, MOD)] * 3


async def test_server_default_and_period(bot: WanBot, cog: AdminCog) -> None:
    reply = await run(cog.quota_default, cog, seconds=30, period="day")
    assert reply == (
        "Every member now gets 30 s per day by default (was 60 s per week). "
        "Allowances now renew every day at 00:00 UTC."
    )
    after = await allowance(bot, ALICE)
    assert (after.base_seconds, after.period) == (30, Period.DAY)
    reply = await run(cog.quota_default, cog, seconds=40)
    assert reply == "Every member now gets 40 s per day by default (was 30 s per day)."
    assert await moderator_rows(bot) == [("set_default", None, MOD)] * 2


async def test_server_budget_set_and_removed(bot: WanBot, cog: AdminCog) -> None:
    await use(bot, BOB, 10, billed=10)
    reply = await run(cog.quota_budget, cog, seconds=500)
    assert reply == "The whole server may now make 500 s of video per week (was no budget)."
    after = await allowance(bot, ALICE)
    assert (after.budget_seconds, after.budget_remaining) == (500, 490)
    reply = await run(cog.quota_budget, cog)
    assert reply == "The server has no video budget now (was 500 s)."
    assert (await allowance(bot, ALICE)).budget_seconds is None
    assert await moderator_rows(bot) == [("set_budget", None, MOD)] * 2


async def test_show_a_member_with_their_history(bot: WanBot, cog: AdminCog) -> None:
    await use(bot, ALICE, 10, billed=8)
    await run(cog.quota_grant, cog, member=member(ALICE), seconds=20, reason="birthday")
    reply = await run(cog.quota_show, cog, member=member(ALICE))
    assert "**72 s** of video left this week" in reply
    assert "granted +20 s by <@7>: birthday" in reply
    assert "charged 8 s (video #1)" in reply and "held 10 s (video #1)" in reply


async def test_usage_now_and_in_the_previous_period(
    bot: WanBot, cog: AdminCog, clock: VirtualClock
) -> None:
    clock.now = WEDNESDAY - timedelta(days=7).total_seconds()
    await use(bot, BOB, 15, billed=15)
    clock.now = WEDNESDAY
    await use(bot, ALICE, 10, billed=10)
    await use(bot, ALICE, 5, billed=5)
    await use(bot, BOB, 5)  # still being made

    reply = await run(cog.quota_usage, cog)
    assert "Video usage this week" in reply
    assert "**20 s** in 3 videos (5 s still being made)" in reply
    assert "about $2.00" in reply  # 20 s at $0.10
    assert "<@11>: 15 s in 2 videos\n<@12>: 5 s in 1 video" in reply

    reply = await run(cog.quota_usage, cog, period="previous")
    assert "Video usage last week" in reply
    assert "**15 s** in 1 video." in reply and "<@12>: 15 s in 1 video" in reply


# -- settings ---------------------------------------------------------------------------------


async def stored(bot: WanBot) -> GuildSettings:
    return await bot.services.guild_settings.get(GUILD)


async def test_channels_add_remove_clear(bot: WanBot, cog: AdminCog) -> None:
    reply = await run(cog.settings_channel_add, cog, channel=channel(5))
    assert reply == "Videos can now be made only in <#5> (was every channel)."
    reply = await run(cog.settings_channel_add, cog, channel=channel(6))
    assert reply == "Videos can now also be made in <#6> (2 channels)."
    assert (await stored(bot)).allowed_channels == {5, 6}
    reply = await run(cog.settings_channel_add, cog, channel=channel(6))
    assert reply == "<#6> is already allowed; nothing changed."

    reply = await run(cog.settings_channel_remove, cog, channel=channel(5))
    assert reply == "Videos can no longer be made in <#5> (1 channel left)."
    assert (await stored(bot)).allowed_channels == {6}
    reply = await run(cog.settings_channel_remove, cog, channel=channel(5))
    assert reply == "<#5> is not on the list; nothing changed."

    await run(cog.settings_channel_add, cog, channel=channel(7))
    reply = await run(cog.settings_channels_clear, cog)
    assert reply == "Videos can be made in every channel again (was only <#6>, <#7>)."
    assert (await stored(bot)).allowed_channels == frozenset()


async def test_removing_the_last_channel_opens_every_channel(bot: WanBot, cog: AdminCog) -> None:
    await run(cog.settings_channel_add, cog, channel=channel(5))
    reply = await run(cog.settings_channel_remove, cog, channel=channel(5))
    assert "every channel again" in reply
    assert (await stored(bot)).channel_allowed(123)


async def test_banned_words_add_and_remove(bot: WanBot, cog: AdminCog) -> None:
    reply = await run(cog.settings_banned_words, cog, action="add", words="Gore, nsfw ,gore,")
    assert reply == "Banned ||gore, nsfw|| (2 banned words in all, was 0)."
    assert (await stored(bot)).banned_words == ("gore", "nsfw")
    reply = await run(cog.settings_banned_words, cog, action="remove", words="NSFW, unknown")
    assert reply == "Unbanned ||nsfw|| (1 banned word in all, was 2)."
    assert (await stored(bot)).banned_words == ("gore",)
    reply = await run(cog.settings_banned_words, cog, action="add", words="gore")
    assert reply == "The list already says that; nothing changed."


async def test_defaults_watermark_duration_and_moderator_role(bot: WanBot, cog: AdminCog) -> None:
    reply = await run(cog.settings_defaults, cog, model="wan2.2-kf2v-flash", resolution="480P")
    assert reply == (
        "New videos now default to wan2.2-kf2v-flash at 480P "
        "(was the bot's default (wan2.7-i2v) at each model's default resolution)."
    )
    reply = await run(cog.settings_watermark, cog, forced=True)
    assert reply == "Watermark: always added (was members choose)."
    reply = await run(cog.settings_longest_duration, cog, seconds=8)
    assert reply == "Longest video: 8 s (was each model's limit)."
    reply = await run(cog.settings_moderator_role, cog, role=role(MOD_ROLE))
    assert reply == "Members with <@&500> can now use /videoadmin (was Manage Server only)."
    assert await stored(bot) == GuildSettings(
        GUILD,
        default_model="wan2.2-kf2v-flash",
        default_resolution="480P",
        force_watermark=True,
        max_duration=8,
        moderator_role_id=MOD_ROLE,
    )

    # Left out means "none" again.
    reply = await run(cog.settings_defaults, cog, resolution="480P")
    assert reply.endswith("wan2.7-i2v cannot make 480P, so it keeps its own default.")
    await run(cog.settings_longest_duration, cog)
    reply = await run(cog.settings_moderator_role, cog)
    assert reply == "Only members with Manage Server can use /videoadmin now (was <@&500>)."
    assert await stored(bot) == GuildSettings(
        GUILD, default_resolution="480P", force_watermark=True
    )


@pytest.fixture
async def shared_bot(
    tmp_path: Path, clock: VirtualClock, database_target: str
) -> AsyncIterator[WanBot]:
    """A bot on a SQLite file, then on PostgreSQL."""
    settings = Settings(database_path=tmp_path / "unused.sqlite3", quota_default_seconds=60)
    async with aiohttp.ClientSession() as session, await open_database(database_target) as db:
        client = DashScopeClient(
            session, api_key=SecretStr("unused"), base_url="http://127.0.0.1:9/api/v1"
        )
        wanbot = WanBot(settings, Services.create(settings, session, db, client, clock=clock))
        try:
            yield wanbot
        finally:
            await wanbot.close()


async def test_moderators_changing_settings_at_once_lose_no_change(shared_bot: WanBot) -> None:
    cog = AdminCog(shared_bot)
    await asyncio.gather(
        run(cog.settings_watermark, cog, forced=True),
        run(cog.settings_longest_duration, cog, seconds=8),
        run(cog.settings_language, cog, language="de"),
        run(cog.settings_defaults, cog, model="wan2.2-kf2v-flash"),
    )
    assert await stored(shared_bot) == GuildSettings(
        GUILD,
        force_watermark=True,
        max_duration=8,
        language="de",
        default_model="wan2.2-kf2v-flash",
    )


async def test_moderators_adding_to_a_list_at_once_lose_no_entry(shared_bot: WanBot) -> None:
    cog = AdminCog(shared_bot)
    replies = await asyncio.gather(
        *(run(cog.settings_channel_add, cog, channel=channel(c)) for c in (201, 202, 203))
    )
    assert (await stored(shared_bot)).allowed_channels == {201, 202, 203}
    # Each reply tells the list as that change left it.
    assert sorted(re.sub(r"<#\d+>", "<#…>", reply) for reply in replies) == [
        "Videos can now also be made in <#…> (2 channels).",
        "Videos can now also be made in <#…> (3 channels).",
        "Videos can now be made only in <#…> (was every channel).",
    ]

    await asyncio.gather(
        run(cog.settings_banned_words, cog, action="add", words="gore"),
        run(cog.settings_banned_words, cog, action="add", words="nsfw, spam"),
        run(cog.settings_channel_remove, cog, channel=channel(202)),
    )
    settings = await stored(shared_bot)
    assert sorted(settings.banned_words) == ["gore", "nsfw", "spam"]
    assert settings.allowed_channels == {201, 203}


async def test_models_hidden_and_shown_again_on_both_backends(shared_bot: WanBot) -> None:
    cog = AdminCog(shared_bot)
    reply = await run(cog.settings_models, cog, action="hide", model="wan2.6-i2v")
    assert reply == (
        "wan2.6-i2v is hidden: members of this server can no longer use it"
        " (hidden now: wan2.6-i2v)."
    )
    await run(cog.settings_models, cog, action="hide", model="wan2.6-i2v-flash")
    assert (await stored(shared_bot)).hidden_models == {"wan2.6-i2v", "wan2.6-i2v-flash"}
    reply = await run(cog.settings_models, cog, action="hide", model="wan2.6-i2v")
    assert reply == "wan2.6-i2v is already hidden; nothing changed."
    reply = await run(cog.settings_show, cog)
    assert "wan2.6-i2v, wan2.6-i2v-flash" in reply

    reply = await run(cog.settings_models, cog, action="show", model="wan2.6-i2v")
    assert reply == "wan2.6-i2v is offered again on this server (hidden now: wan2.6-i2v-flash)."
    reply = await run(cog.settings_models, cog, action="show", model="wan2.6-i2v")
    assert reply == "wan2.6-i2v is not hidden; nothing changed."
    await run(cog.settings_models, cog, action="show", model="wan2.6-i2v-flash")
    assert await stored(shared_bot) == GuildSettings(GUILD)
    assert "None: every model is offered" in await run(cog.settings_show, cog)


async def test_show_lists_every_setting(bot: WanBot, cog: AdminCog) -> None:
    await run(cog.settings_channel_add, cog, channel=channel(5))
    await run(cog.settings_banned_words, cog, action="add", words="gore")
    await run(cog.settings_moderator_role, cog, role=role(MOD_ROLE))
    await run(cog.quota_role, cog, role=role(VIP_ROLE), seconds=90)
    await run(cog.quota_budget, cog, seconds=1000)
    reply = await run(cog.settings_show, cog)
    for expected in [
        "Manage Server, or <@&500>",
        "<#5>",
        "1: ||gore||",
        "the bot's default (wan2.7-i2v)",
        "each model's default resolution",
        "each model's limit",
        "members choose",
        "60 s per week",
        "1000 s per week",
        "<@&600>: 90 s",
    ]:
        assert expected in reply


@pytest.mark.parametrize(
    ("command", "options", "message"),
    [
        ("settings_defaults", {"resolution": "4K"}, "No model makes 4K"),
        (
            "settings_defaults",
            {"model": "wanx2.1-kf2v-plus", "resolution": "1080P"},
            "wanx2.1-kf2v-plus cannot make 1080P; choose one of 720P.",
        ),
        ("settings_defaults", {"model": "sora"}, "There is no model sora;"),
        ("settings_models", {"action": "hide", "model": "sora"}, "There is no model sora;"),
        ("settings_models", {"action": "drop", "model": "wan2.6-i2v"}, "hide or to show"),
        ("settings_longest_duration", {"seconds": 20}, "must be 2–15 s, not 20"),
        ("settings_banned_words", {"action": "add", "words": " , ,"}, "one or more words"),
        ("settings_banned_words", {"action": "add", "words": "x" * 60}, "at most 50 characters"),
        ("settings_moderator_role", {"role": role(GUILD)}, "other than @everyone"),
        ("quota_set", {"member": member(ALICE), "seconds": -5}, "Seconds must be 0–86400"),
        ("quota_grant", {"member": member(ALICE), "seconds": 0}, "Seconds must be 1–86400"),
        ("quota_default", {"seconds": 10, "period": "year"}, "a day, a week or a month"),
        ("quota_budget", {"seconds": 100_000}, "Seconds must be 0–86400"),
    ],
)
async def test_invalid_values_are_refused_and_change_nothing(
    bot: WanBot, cog: AdminCog, command: str, options: dict[str, Any], message: str
) -> None:
    reply = await run(getattr(cog, command), cog, **options)
    assert message in reply
    assert await stored(bot) == GuildSettings(GUILD)
    assert await bot.services.quotas.ledger(GUILD) == []


# -- the command as Discord sees it -----------------------------------------------------------

NAME = re.compile(r"^[-_'\w]{1,32}$")


def walk_options(node: dict[str, Any], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    found = [(depth, node)]
    for option in node.get("options", []):
        found += walk_options(option, depth + 1)
    return found


def discord_characters(node: dict[str, Any]) -> int:
    """What Discord counts towards the 8000 characters of one command."""
    total = len(node["name"]) + len(node.get("description", ""))
    total += sum(len(c["name"]) + len(str(c["value"])) for c in node.get("choices", []))
    return total + sum(discord_characters(option) for option in node.get("options", []))


async def test_the_command_tree_as_discord_receives_it(bot: WanBot) -> None:
    await bot.add_cog(AdminCog(bot))
    payload = bot.tree.get_command("videoadmin").to_dict(bot.tree)
    # An integer in the request body (Discord's spec); Discord answers with it as a string.
    assert payload["default_member_permissions"] == discord.Permissions(manage_guild=True).value
    assert payload["dm_permission"] is False
    assert payload.get("contexts") in (None, [0])
    assert [group["name"] for group in payload["options"]] == ["quota", "settings"]
    assert discord_characters(payload) <= 8000
    for depth, node in walk_options(payload):
        assert depth <= 3  # command, group, subcommand, option
        assert NAME.match(node["name"]) and node["name"] == node["name"].lower(), node["name"]
        assert 1 <= len(node["description"]) <= 100, node["description"]
        options = node.get("options", [])
        assert len(options) <= 25 and len(node.get("choices", [])) <= 25
        assert len({o["name"] for o in options}) == len(options)
        required = [o.get("required", False) for o in options if o["type"] > 2]
        assert required == sorted(required, reverse=True), node["name"]  # required ones first


async def test_the_servers_language_is_chosen_and_shown(bot: WanBot, cog: AdminCog) -> None:
    reply = await run(cog.settings_language, cog, language="ja")
    assert reply == (
        "Status messages and posted videos are now in 日本語 (was Discord's server language). "
        "Replies to each member stay in their own Discord language."
    )
    assert (await stored(bot)).language == "ja"
    assert "日本語" in await run(cog.settings_show, cog)
    reply = await run(cog.settings_language, cog, language="discord")
    assert reply.startswith("Status messages and posted videos are now in Discord's server")
    assert (await stored(bot)).language is None
    reply = await run(cog.settings_language, cog, language="xx")
    assert reply.startswith("There is no language xx; choose one of: English, 简体中文")
    assert (await stored(bot)).language is None
