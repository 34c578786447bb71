"""Every choice /video offers works: for each subcommand that makes a video and each value it
offers (model, resolution, duration, template, ratio, shot type), some request a member can make with it, from
the files it asks for, is one the catalogue accepts.

The choices are read from the commands as Discord receives them; the request is the one the cog
hands the intake (its `Ask`), drafted as the intake drafts it, with placeholder URLs of the right
media types, and a clip as short as the model takes (the duration counts the clip).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import pytest

from bot.domain.catalog import LONGEST_SECONDS, MODELS, MediaType, Slot, role_of
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.requests import GenerationRequest, check_clip_fits, continuation_duration
from bot.intake.ask import Ask, Attachment
from bot.intake.draft import draft
from bot.run.app import WanBot, command_payloads
from bot.run.settings import Settings
from cogs.choices import ANIMATE, CONTINUE, EDIT, EFFECT, INTERPOLATE, REFERENCE, TEXT

SUB_COMMAND, STRING, INTEGER, ATTACHMENT = 1, 3, 4, 11
# Options whose values come from the catalogue.
CHOSEN = ("model", "resolution", "template", "ratio", "shot_type")
MENUS = {
    "animate": ANIMATE,
    "interpolate": INTERPOLATE,
    "continue": CONTINUE,
    "effect": EFFECT,
    "text": TEXT,
    "reference": REFERENCE,
    "edit": EDIT,
}
# The files of /video reference tried here: one reference of each kind, a voice and the first
# frame (all of its 11 files together would be thousands of ways to fill it in).
TRIED_FILES = {
    "reference": ["reference1", "reference2", "first_frame", "voice1"],
    "edit": ["clip", "reference1"],
}
# What Discord says each of its files is: a reference is a picture or a clip by this.
FILE_KINDS = {"reference2": "video/mp4", "reference1": "image/png", "voice1": "audio/mpeg"}
# What a member writes in a required free-text option (the prompt of /video text).
WRITTEN = "A lighthouse in a storm, the camera circling it"
CONTENT = {
    MediaType.FIRST_FRAME: ("image/png", "png"),
    MediaType.LAST_FRAME: ("image/jpeg", "jpg"),
    MediaType.DRIVING_AUDIO: ("audio/mpeg", "mp3"),
    MediaType.FIRST_CLIP: ("video/mp4", "mp4"),
    MediaType.REFERENCE_IMAGE: ("image/png", "png"),
    MediaType.REFERENCE_VIDEO: ("video/mp4", "mp4"),
    MediaType.VIDEO: ("video/mp4", "mp4"),
}


@dataclass
class Subcommand:
    """A /video subcommand that makes a video, as Discord shows it to members."""

    name: str
    callback: Any
    cog: Any
    files: list[str]  # attachment options, required ones first
    required: set[str]
    offered: dict[str, list[Any]]  # option → every value a member can pick (None: left out)
    written: dict[str, str]  # required free-text options → what a member writes in them
    descriptions: dict[str, str]


@pytest.fixture
async def subcommands() -> AsyncIterator[list[Subcommand]]:
    bot = WanBot(Settings())
    try:
        await bot.load_commands()
        group = bot.tree.get_command("video")
        payload = group.to_dict(bot.tree)
        cog = bot.get_cog("VideoCog")
        asks: list[Ask] = []

        async def capture(interaction: object, ask: Ask) -> None:
            asks.append(ask)

        cog.make = capture  # the cog builds the Ask; the test checks it instead of queueing it
        found = []
        for node in payload["options"]:
            options = node.get("options", [])
            files = [o["name"] for o in options if o["type"] == ATTACHMENT]
            if node["type"] != SUB_COMMAND or not files:
                continue
            files = [f for f in files if f in TRIED_FILES.get(node["name"], files)]
            found.append(
                Subcommand(
                    name=node["name"],
                    callback=group.get_command(node["name"]).callback,
                    cog=cog,
                    files=files,
                    required={o["name"] for o in options if o.get("required")},
                    offered={o["name"]: _values(o) for o in options if _values(o)},
                    written={
                        o["name"]: WRITTEN
                        for o in options
                        if o.get("required") and o["type"] == STRING and not o.get("choices")
                    },
                    descriptions={o["name"]: o["description"] for o in options},
                )
            )
        for subcommand in found:
            subcommand.cog.asks = asks
        yield found
    finally:
        await bot.close()


def _values(option: dict[str, Any]) -> list[Any]:
    """What a member can pick for an option with choices or bounds, None for leaving it out."""
    left_out = [] if option.get("required") else [None]
    if option.get("choices"):
        return left_out + [c["value"] for c in option["choices"]]
    if option["type"] == INTEGER and option["name"] == "duration":
        return left_out + list(range(option["min_value"], option["max_value"] + 1))
    return []


def requests(subcommand: Subcommand) -> Iterator[dict[str, Any]]:
    """Every way to fill in the subcommand's files and chosen options."""
    optional = [f for f in subcommand.files if f not in subcommand.required]
    extras = [set(c) for n in range(len(optional) + 1) for c in itertools.combinations(optional, n)]
    names = list(subcommand.offered)
    for given in extras:
        for values in itertools.product(*(subcommand.offered[n] for n in names)):
            options = {n: v for n, v in zip(names, values, strict=True) if v is not None}
            files = subcommand.required & set(subcommand.files) | given
            yield {"files": files, **subcommand.written, **options}


async def ask_of(subcommand: Subcommand, filled: dict[str, Any]) -> Ask:
    """What the cog hands the intake for these options, with files of the right media types."""
    options = {k: v for k, v in filled.items() if k != "files"}
    files = {
        name: SimpleNamespace(
            url=f"https://cdn.example/{name}",
            filename="x",
            size=1,
            content_type=FILE_KINDS.get(name),
        )
        for name in filled["files"]
    }
    subcommand.cog.asks.clear()
    await subcommand.callback(subcommand.cog, object(), **files, **options)
    [ask] = subcommand.cog.asks
    return replace(ask, media={t: _file(t) for t in ask.media})


async def accepted(subcommand: Subcommand, filled: dict[str, Any]) -> GenerationRequest | None:
    """The request the intake would make of these options, if the catalogue accepts it."""
    ask = await ask_of(subcommand, filled)
    try:
        request = draft(ask, GuildSettings(0), channel_id=1)
        if request.spec.clip is not None and MediaType.FIRST_CLIP in request.media_types:
            shortest = request.spec.clip.min_seconds  # the duration counts the clip
            if request.duration is None:
                length = min(continuation_duration(shortest, request.spec), LONGEST_SECONDS)
                request = request.model_copy(update={"duration": length})
            check_clip_fits(request, shortest)
    except InvalidInput:
        return None
    return request


def _file(slot: Slot) -> Attachment:
    content_type, extension = CONTENT[role_of(slot)]
    name = f"{slot.value}.{extension}"
    return Attachment(f"https://cdn.example/{name}", name, 1024, content_type)


async def working(subcommand: Subcommand) -> list[dict[str, Any]]:
    """Every way of filling in the subcommand that the catalogue accepts."""
    return [filled for filled in requests(subcommand) if await accepted(subcommand, filled)]


async def test_every_offered_choice_makes_a_request_the_catalogue_accepts(
    subcommands: list[Subcommand],
) -> None:
    assert {s.name for s in subcommands} >= set(MENUS)
    refused = []
    for subcommand in subcommands:
        refused += [
            f"/video {subcommand.name} {option}: free text, no choices"
            for option in CHOSEN
            if option in subcommand.descriptions and option not in subcommand.offered
        ]
        assert (
            not subcommand.required
            - set(subcommand.files)
            - set(subcommand.offered)
            - set(subcommand.written)
        ), f"/video {subcommand.name}: a required option the test cannot fill in"
        accepted_ones = await working(subcommand)
        for name, values in subcommand.offered.items():
            picked = {filled.get(name) for filled in accepted_ones}
            refused += [
                f"/video {subcommand.name} {name}: {value}"
                for value in values
                if value is not None and value not in picked
            ]
    assert not refused, "offered but always refused (or not offered):\n" + "\n".join(refused)


async def test_each_subcommand_works_with_its_files_alone(subcommands: list[Subcommand]) -> None:
    """Leaving every choice out (the model's defaults) works, with or without the optional files."""
    for subcommand in subcommands:
        optional = [f for f in subcommand.files if f not in subcommand.required]
        for n in range(len(optional) + 1):
            for given in itertools.combinations(optional, n):
                files = subcommand.required & set(subcommand.files) | set(given)
                filled: dict[str, Any] = {"files": files, **subcommand.written}
                if "template" in subcommand.required:
                    filled["template"] = subcommand.offered["template"][0]
                request = await accepted(subcommand, filled)
                assert request is not None, f"/video {subcommand.name} with {filled['files']}"


async def test_choices_valid_only_with_some_models_are_named_in_the_help(
    subcommands: list[Subcommand],
) -> None:
    """Where a resolution or duration works with some offered models only, the option's help
    names the models that make it."""
    for subcommand in subcommands:
        models = {m for m in subcommand.offered.get("model", []) if m is not None}
        accepted_ones = await working(subcommand)
        for option in ("resolution", "duration"):
            for value in subcommand.offered.get(option, []):
                makers = {
                    filled.get("model")
                    for filled in accepted_ones
                    if filled.get(option) == value and filled.get("model") is not None
                }
                if value is None or not makers or makers == models:
                    continue
                help_text = subcommand.descriptions[option]
                assert all(m in help_text for m in makers), (
                    f"/video {subcommand.name} {option} {value}: only {sorted(makers)} make it, "
                    f"but the help says {help_text!r}"
                )


async def test_each_subcommands_files_are_the_inputs_its_choices_are_read_for(
    subcommands: list[Subcommand],
) -> None:
    """cogs/choices.py names each subcommand's inputs apart from its options: they must agree."""
    assert {s.name for s in subcommands} == set(MENUS)
    for subcommand in subcommands:
        inputs = MENUS[subcommand.name].inputs
        required = subcommand.required & set(subcommand.files)
        template = {"template": subcommand.offered["template"][-1]} if inputs.template else {}
        written = subcommand.written
        alone = await ask_of(subcommand, {"files": required, **written, **template})
        every = await ask_of(subcommand, {"files": set(subcommand.files), **written, **template})
        assert alone.roles() == inputs.given, subcommand.name
        assert every.roles() == inputs.given | inputs.optional, subcommand.name
        assert ("template" in subcommand.descriptions) == inputs.template, subcommand.name


def test_the_placeholders_are_the_media_types_the_catalogue_knows() -> None:
    assert set(CONTENT) == set(MediaType)
    assert all(spec.media_types <= set(CONTENT) for spec in MODELS.values())


async def test_the_operators_retired_models_leave_the_choices_and_the_help() -> None:
    def models_in(payloads: list[dict[str, Any]]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}

        def walk(prefix: str, node: dict[str, Any]) -> None:
            for option in node.get("options", []):
                if option["type"] in (1, 2):
                    walk(f"{prefix} {option['name']}", option)
                elif option["name"] in ("model", "duration"):
                    found[f"{prefix} {option['name']}"] = {
                        c["value"] for c in option.get("choices", [])
                    } | {option["description"]}

        for payload in payloads:
            walk(payload["name"], payload)
        return found

    every = models_in(await command_payloads(Settings()))
    retired = Settings(retired_models="wan2.6-i2v-flash")
    left = models_in(await command_payloads(retired))
    assert "wan2.6-i2v-flash" in every["video animate model"]
    assert "wan2.6-i2v-flash" not in left["video animate model"]
    assert "wan2.6-i2v-flash" not in left["videoadmin settings defaults model"]
    assert not any("wan2.6-i2v-flash" in text for text in left["video animate duration"])
    # A moderator can still hide (or show again) any model.
    assert "wan2.6-i2v-flash" in left["videoadmin settings models model"]
    # Nothing leaks into the next bot built in this process.
    assert models_in(await command_payloads(Settings())) == every


async def test_a_ratio_is_offered_only_where_a_model_takes_it(
    subcommands: list[Subcommand],
) -> None:
    """/video text offers every shape its model makes; the commands that start from a picture
    (whose shape the video keeps) offer none."""
    offered = {s.name: s.offered.get("ratio") for s in subcommands}
    assert offered.pop("text") == [None, *MODELS["wan2.7-t2v"].ratios]
    assert offered.pop("reference") == [None, *MODELS["wan2.7-r2v"].ratios]
    assert offered.pop("edit") == [None, *MODELS["wan2.7-videoedit"].ratios]
    assert all(ratios is None for ratios in offered.values()), offered


async def test_a_shot_type_is_offered_only_where_a_model_takes_it(
    subcommands: list[Subcommand],
) -> None:
    """/video animate offers one shot or several, its help naming the models that take them
    (each choice working with one of them is proven above); the others offer none."""
    offered = {s.name: s.offered.get("shot_type") for s in subcommands}
    assert offered.pop("animate") == [None, "single", "multi"]
    assert all(shot_types is None for shot_types in offered.values()), offered
    [animate] = [s for s in subcommands if s.name == "animate"]
    help_ = animate.descriptions["shot_type"]
    assert "wan2.6-i2v-flash" in help_ and "wan2.6-i2v" in help_ and "wan2.7-i2v" not in help_
    multi = {"files": {"image"}, "shot_type": "multi"}
    assert await accepted(animate, multi | {"model": "wan2.7-i2v"}) is None
    # Without a model, a model that takes a shot type makes it (the default takes none).
    made = await accepted(animate, multi)
    assert made is not None and made.model == "wan2.6-i2v-flash"
    assert made.body()["parameters"]["shot_type"] == "multi"
