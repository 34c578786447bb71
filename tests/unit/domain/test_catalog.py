"""The catalogue is the one source of model facts; the README must not drift from it."""

from __future__ import annotations

import pytest

from bot.domain.catalog import (
    MODELS,
    REFERENCES,
    Inputs,
    InputStyle,
    MediaType,
    Menu,
    Region,
    combination_name,
    combination_text,
    combinations_name,
    region_of,
)
from bot.i18n import Text
from tests.support import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_is_documented_with_its_resolutions(name: str) -> None:
    spec = MODELS[name]
    row = next((line for line in README.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"README's model table lacks {name}"
    for resolution in spec.resolutions:
        assert resolution in row
    assert str(spec.duration_text) in row
    for template in spec.templates:
        assert f"`{template}`" in row


@pytest.mark.parametrize("spec", MODELS.values(), ids=lambda s: s.name)
def test_each_model_is_consistent(spec) -> None:
    assert spec.default_resolution in spec.resolutions
    assert spec.default_duration in spec.durations
    assert all(c <= spec.media_types for c in spec.combinations)
    if spec.input_style is not InputStyle.MEDIA:
        assert MediaType.FIRST_CLIP not in spec.media_types
    assert bool(spec.templates) == bool(spec.template_combinations)
    # Audio limits for a driving audio, or for references' voices.
    takes_audio = MediaType.DRIVING_AUDIO in spec.media_types or spec.reference_voices
    assert (spec.audio is not None) == takes_audio
    clips = {MediaType.FIRST_CLIP, MediaType.REFERENCE_VIDEO, MediaType.VIDEO}
    assert (spec.clip is not None) == bool(clips & spec.media_types)
    assert bool(spec.max_references) == bool(REFERENCES & spec.media_types)


@pytest.mark.parametrize(
    ("name", "english"),
    [
        ("wan2.7-i2v", "2–15 s"),
        ("wan2.7-t2v", "2–15 s"),
        ("wan2.6-i2v-flash", "2–15 s"),
        ("wan2.6-i2v", "5, 10 or 15 s"),
        ("wan2.2-kf2v-flash", "5 s"),
        ("wanx2.1-kf2v-plus", "5 s"),
    ],
)
def test_durations_are_a_text_people_read(name: str, english: str) -> None:
    text = MODELS[name].duration_text
    assert isinstance(text, Text)
    assert str(text) == english
    assert f"{text}" == english, "cogs put it in f-strings"


def test_summaries_are_texts_whose_english_is_kept() -> None:
    spec = MODELS["wan2.2-kf2v-flash"]
    assert isinstance(spec.summary, Text)
    assert str(spec.summary) == "Fast silent video between a first and a last frame; 5 s"
    assert f"{spec.name} — {spec.summary}" == (
        "wan2.2-kf2v-flash — Fast silent video between a first and a last frame; 5 s"
    )
    for other in MODELS.values():
        assert isinstance(other.summary, Text) and not other.summary.params


def test_media_types_have_a_name_for_people_and_an_english_label() -> None:
    names = {m: m.name_text for m in MediaType}
    assert all(isinstance(name, Text) for name in names.values())
    assert {m: str(name) for m, name in names.items()} == {
        MediaType.FIRST_FRAME: "First frame",
        MediaType.LAST_FRAME: "Last frame",
        MediaType.DRIVING_AUDIO: "Driving audio",
        MediaType.FIRST_CLIP: "First clip",
        MediaType.REFERENCE_IMAGE: "Reference image",
        MediaType.REFERENCE_VIDEO: "Reference video",
        MediaType.VIDEO: "Clip to edit",
    }
    assert MediaType.DRIVING_AUDIO.label == "the driving audio"


def test_combinations_are_named_in_the_order_people_give_them() -> None:
    both = frozenset({MediaType.LAST_FRAME, MediaType.FIRST_FRAME})
    assert str(combination_name(both)) == "First frame + Last frame"
    assert combination_text(both) == "first frame + last frame"
    options = (frozenset({MediaType.FIRST_FRAME}), both)
    assert str(combinations_name(options)) == "First frame; First frame + Last frame"
    with pytest.raises(ValueError):
        combination_name(frozenset())


FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP


def test_a_menu_offers_the_models_its_inputs_are_enough_for() -> None:
    animate = Menu.of(Inputs(frozenset({FIRST}), frozenset({AUDIO})))
    assert animate.models == ("wan2.7-i2v", "wan2.6-i2v-flash", "wan2.6-i2v")
    assert animate.resolutions == ("720P", "1080P")
    assert (animate.shortest, animate.longest) == (2, 15)

    interpolate = Menu.of(Inputs(frozenset({FIRST, LAST}), frozenset({AUDIO})))
    assert interpolate.models == ("wan2.7-i2v", "wan2.2-kf2v-flash", "wanx2.1-kf2v-plus")
    assert interpolate.resolutions == ("480P", "720P", "1080P")
    assert interpolate.makers("480P") == ("wan2.2-kf2v-flash",)
    assert interpolate.takers(AUDIO) == ("wan2.7-i2v",)
    assert interpolate.default.name == "wan2.7-i2v"


def test_a_continued_clip_counts_in_the_duration() -> None:
    continuation = Menu.of(Inputs(frozenset({CLIP}), frozenset({LAST})))
    assert continuation.models == ("wan2.7-i2v",)
    assert continuation.durations == tuple(range(3, 16)), "a 2 s clip leaves 3–15 s"
    assert MODELS["wan2.7-i2v"].durations_for(frozenset({FIRST})) == tuple(range(2, 16))


def test_effect_templates_name_their_model() -> None:
    effect = Menu.of(Inputs(frozenset({FIRST}), template=True))
    assert effect.models == ("wanx2.1-kf2v-plus",)
    assert effect.templates == ("mech1", "mech2", "hanfu-1", "solaron", "magazine")
    assert effect.model_for("hanfu-1").name == "wanx2.1-kf2v-plus"
    assert effect.durations == (5,)
    assert Menu.of(Inputs(frozenset({FIRST}), frozenset({AUDIO}))).templates == ()


def test_inputs_no_model_takes_have_no_menu() -> None:
    assert Inputs(frozenset({FIRST}), frozenset({AUDIO, LAST})).combinations == (
        frozenset({FIRST}),
        frozenset({FIRST, LAST}),
        frozenset({FIRST, AUDIO}),
        frozenset({FIRST, LAST, AUDIO}),
    )
    with pytest.raises(ValueError, match="no model takes"):
        Menu.of(Inputs(frozenset({LAST})))


def test_text_to_video_takes_no_picture_and_a_ratio() -> None:
    spec = MODELS["wan2.7-t2v"]
    assert spec.prompt_required
    assert spec.accepts(frozenset()) and spec.accepts(frozenset({MediaType.DRIVING_AUDIO}))
    assert not spec.accepts(frozenset({MediaType.FIRST_FRAME}))
    assert spec.ratios == ("16:9", "9:16", "1:1", "4:3", "3:4") and spec.default_ratio == "16:9"
    assert spec.audio is not None
    assert (spec.audio.min_seconds, spec.audio.max_seconds) == (3, 30)
    assert {r.value for r in spec.regions} == {"beijing", "singapore"}
    # Only the models that need no first frame are asked for a shape.
    assert [m.name for m in MODELS.values() if m.ratios] == [
        "wan2.7-t2v",
        "wan2.7-r2v",
        "wan2.7-videoedit",
    ]
    menu = Menu.of(Inputs(frozenset(), frozenset({MediaType.DRIVING_AUDIO})))
    assert menu.models == ("wan2.7-t2v",) and menu.ratios == spec.ratios
    animate = Menu.of(
        Inputs(frozenset({MediaType.FIRST_FRAME}), frozenset({MediaType.DRIVING_AUDIO}))
    )
    assert "wan2.7-t2v" not in animate.models and animate.ratios == ()


def test_a_public_endpoint_names_its_region() -> None:
    assert region_of("https://dashscope-intl.aliyuncs.com/api/v1/") is Region.SINGAPORE
    assert region_of("https://dashscope-us.aliyuncs.com/api/v1") is Region.US
    assert region_of("http://127.0.0.1:8765/api/v1") is None
