"""A member's own defaults: checked against what the server offers when they are set, and passed
over (never refused) when the server or the operator has changed things since."""

from __future__ import annotations

import pytest

from bot.domain.catalog import MODELS, MediaType
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.member import MemberSettings, check_new

FIRST = frozenset({MediaType.FIRST_FRAME})
GUILD = GuildSettings(10)
MINE = MemberSettings(10, 1)


def test_offered_values_are_kept() -> None:
    mine = check_new(MINE, GUILD, model="wan2.6-i2v", resolution="720P", duration=10)
    assert (mine.model, mine.resolution, mine.duration, mine.private) == (
        "wan2.6-i2v",
        "720P",
        10,
        False,
    )
    # Nothing given: nothing changes; each value given alone keeps the others.
    assert check_new(mine, GUILD) == mine
    assert check_new(mine, GUILD, duration=5).model == "wan2.6-i2v"


@pytest.mark.parametrize(
    ("guild", "given", "field", "says"),
    [
        (
            GUILD.with_model_hidden("wan2.6-i2v", hidden=True),
            {"model": "wan2.6-i2v"},
            "model",
            "wan2.6-i2v is not offered on this server",
        ),
        (GUILD, {"model": "wan9-nothing"}, "model", "wan9-nothing is not offered"),
        (
            GUILD,
            {"model": "wanx2.1-kf2v-plus", "resolution": "1080P"},
            "resolution",
            "No model offered here makes 1080P",
        ),
        (GUILD, {"resolution": "4K"}, "resolution", "choose one of 480P, 720P, 1080P"),
        (GuildSettings(10, max_duration=8), {"duration": 10}, "duration", "at most 8 s"),
        (
            GUILD,
            {"model": "wan2.6-i2v", "duration": 7},
            "duration",
            "possible lengths: 5, 10, 15 s",
        ),
        (GUILD, {"private": True}, "private", "does not allow private mode"),
    ],
)
def test_what_the_server_does_not_offer_is_refused(
    guild: GuildSettings, given: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_new(MINE, guild, **given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert says in str(refused.value.text)


def test_a_retired_model_is_not_offered() -> None:
    with pytest.raises(InvalidInput):
        check_new(MINE, GUILD, model="wan2.6-i2v", retired=frozenset({"wan2.6-i2v"}))


def test_private_mode_where_the_server_allows_it_and_only_while_it_does() -> None:
    allowed = GuildSettings(10, private_mode=True)
    mine = check_new(MINE, allowed, private=True)
    assert mine.by_dm(allowed)
    assert not mine.by_dm(GUILD), "the server turned it off: new videos go to the channel"
    assert check_new(mine, GUILD, private=False).private is False, "turning it off always works"


def test_clearing_one_setting_or_all() -> None:
    mine = MemberSettings(10, 1, "wan2.6-i2v", "720P", 10, True)
    assert mine.cleared("model") == MemberSettings(10, 1, None, "720P", 10, True)
    assert mine.cleared("private").private is False
    assert mine.cleared("all") == MemberSettings(10, 1)
    with pytest.raises(ValueError):
        mine.cleared("colour")


def test_usable_defaults_follow_the_server_and_the_model_as_they_are_now() -> None:
    mine = MemberSettings(10, 1, "wan2.6-i2v", "480P", 12)
    assert mine.usable_model(FIRST, GUILD, template=False) == "wan2.6-i2v"
    hidden = GUILD.with_model_hidden("wan2.6-i2v", hidden=True)
    assert mine.usable_model(FIRST, hidden, template=False) is None
    assert (
        mine.usable_model(FIRST, GUILD, template=False, retired=frozenset({"wan2.6-i2v"})) is None
    )
    both = frozenset({MediaType.FIRST_FRAME, MediaType.LAST_FRAME})
    assert mine.usable_model(both, GUILD, template=False) is None, "it does not take two frames"
    assert mine.usable_resolution(MODELS["wan2.2-kf2v-flash"]) == "480P"
    assert mine.usable_resolution(MODELS["wan2.6-i2v"]) is None
    assert mine.usable_duration(MODELS["wan2.7-i2v"], FIRST, GUILD) == 12
    assert mine.usable_duration(MODELS["wan2.6-i2v"], FIRST, GUILD) is None, "5, 10 or 15 only"
    assert (
        mine.usable_duration(MODELS["wan2.7-i2v"], FIRST, GuildSettings(10, max_duration=10))
        is None
    )
    assert mine.usable_duration(MODELS["wan2.2-kf2v-flash"], both, GUILD) is None, "fixed length"
