"""The catalogue is the one source of model facts; the README must not drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import (
    MODELS,
    InputStyle,
    MediaType,
    combination_name,
    combination_text,
    combinations_name,
)
from bot.i18n import Text

README = (Path(__file__).parent.parent / "README.md").read_text()


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
    assert (spec.audio is not None) == (MediaType.DRIVING_AUDIO in spec.media_types)
    assert (spec.clip is not None) == (MediaType.FIRST_CLIP in spec.media_types)


@pytest.mark.parametrize(
    ("name", "english"),
    [
        ("wan2.7-i2v", "2–15 s"),
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
