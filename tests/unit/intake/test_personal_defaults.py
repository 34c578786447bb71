"""A member's own defaults in the one admission path: what they type > their default > the
server's default > the model's; a default the server or the operator no longer allows is passed
over for the next rule down, the reply told why, and never a refusal of its own."""

from __future__ import annotations

from bot.domain.catalog import MediaType
from bot.domain.guild import GuildSettings
from bot.domain.member import MemberSettings
from bot.intake.ask import Ask, Attachment, Uploaded
from bot.intake.draft import Draft, drafted

IMAGE = Attachment("https://cdn.example/cat.png", "cat.png", 1000, "image/png")
CLIP = Attachment("https://cdn.example/clip.mp4", "clip.mp4", 100_000, "video/mp4")
FRAME = {MediaType.FIRST_FRAME: IMAGE}
SERVER = GuildSettings(10, default_model="wan2.6-i2v-flash", default_resolution="720P")
MINE = MemberSettings(10, 1, model="wan2.6-i2v", resolution="1080P", duration=10)


def make(
    ask: Ask | None = None,
    guild: GuildSettings = SERVER,
    mine: MemberSettings | None = MINE,
    retired: frozenset[str] = frozenset(),
) -> Draft:
    return drafted(ask or Ask(None, dict(FRAME)), guild, mine, channel_id=100, retired=retired)


def said(made: Draft) -> list[str]:
    return [str(note) for note in made.notes]


def test_their_default_comes_before_the_servers() -> None:
    made = make()
    assert (made.request.model, made.request.resolution, made.request.duration) == (
        "wan2.6-i2v",
        "1080P",
        10,
    )
    assert made.notes == () and made.by_dm is False


def test_what_they_type_comes_before_their_default() -> None:
    ask = Ask("wan2.7-i2v", dict(FRAME), resolution="720P", duration=3)
    made = make(ask)
    assert (made.request.model, made.request.resolution, made.request.duration) == (
        "wan2.7-i2v",
        "720P",
        3,
    )
    assert made.notes == ()


def test_with_no_defaults_of_theirs_the_servers_then_the_models_apply() -> None:
    made = make(mine=MemberSettings(10, 1))
    assert (made.request.model, made.request.resolution, made.request.duration) == (
        "wan2.6-i2v-flash",
        "720P",
        None,
    )
    assert make(guild=GuildSettings(10), mine=None).request.model == "wan2.7-i2v"


def test_a_default_model_the_server_has_since_hidden_gives_way_to_the_servers() -> None:
    hidden = SERVER.with_model_hidden("wan2.6-i2v", hidden=True)
    made = make(guild=hidden)
    assert made.request.model == "wan2.6-i2v-flash"
    assert said(made) == [
        "Your default model wan2.6-i2v cannot make this video here (not offered, or not for"
        " these inputs), so it uses wan2.6-i2v-flash."
    ]


def test_a_default_model_the_operator_retired_is_passed_over_not_refused() -> None:
    made = make(retired=frozenset({"wan2.6-i2v"}))
    assert made.request.model == "wan2.6-i2v-flash"
    assert "wan2.6-i2v cannot make this video here" in said(made)[0]


def test_a_default_model_that_does_not_take_the_inputs_gives_way() -> None:
    frames = {MediaType.FIRST_FRAME: IMAGE, MediaType.LAST_FRAME: IMAGE}
    made = make(Ask(None, frames), guild=GuildSettings(10))
    assert made.request.model == "wan2.7-i2v"
    assert len(made.notes) == 1


def test_a_resolution_the_video_model_does_not_make_falls_to_the_servers() -> None:
    mine = MemberSettings(10, 1, resolution="480P")
    made = make(mine=mine)
    assert made.request.resolution == "720P", "the server's default"
    assert said(made) == [
        "Your default resolution 480P is not made by wan2.6-i2v-flash, so this video is 720P."
    ]
    kf2v = make(
        Ask("wan2.2-kf2v-flash", {MediaType.FIRST_FRAME: IMAGE, MediaType.LAST_FRAME: IMAGE}),
        mine=mine,
    )
    assert kf2v.request.resolution == "480P" and kf2v.notes == ()


def test_a_length_over_the_servers_longest_now_falls_to_the_servers_rule() -> None:
    shorter = GuildSettings(10, max_duration=8)
    made = make(guild=shorter, mine=MemberSettings(10, 1, duration=10))
    assert made.request.resolved_duration == 5
    assert said(made) == [
        "Your default length of 10 s is not possible with wan2.7-i2v on this server now, so"
        " this video is 5 s."
    ]


def test_a_length_the_model_does_not_make_falls_to_its_default() -> None:
    made = make(Ask("wan2.6-i2v", dict(FRAME)), mine=MemberSettings(10, 1, duration=7))
    assert made.request.resolved_duration == 5
    assert "7 s is not possible with wan2.6-i2v" in said(made)[0]


def test_a_retry_is_the_same_request_again_and_a_continuation_counts_its_clip() -> None:
    retry = Ask(
        "wan2.7-i2v",
        {},
        uploaded=Uploaded({MediaType.FIRST_FRAME: "oss://first"}, None),
    )
    made = make(retry)
    assert made.request.duration is None and made.request.resolution == "720P"
    assert made.notes == ()
    private = MemberSettings(10, 1, model="wan2.6-i2v", private=True)
    retried = make(retry, guild=GuildSettings(10, private_mode=True), mine=private)
    assert retried.by_dm is True and retried.request.model == "wan2.7-i2v", "it goes to the DM"
    continued = make(Ask("wan2.7-i2v", {MediaType.FIRST_CLIP: CLIP}))
    assert continued.request.duration is None, "its length comes from the clip once read"
    assert continued.notes == ()


def test_private_mode_where_the_server_allows_it_and_a_word_when_it_no_longer_does() -> None:
    mine = MemberSettings(10, 1, private=True)
    assert make(guild=GuildSettings(10, private_mode=True), mine=mine).by_dm is True
    made = make(guild=GuildSettings(10), mine=mine)
    assert made.by_dm is False
    assert said(made) == [
        "This server has turned private mode off, so this video is posted in the channel."
    ]
