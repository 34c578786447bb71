"""The catalogue is the one source of model facts; the README must not drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import MODELS, InputStyle, MediaType

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_is_documented_with_its_resolutions(name: str) -> None:
    spec = MODELS[name]
    row = next((line for line in README.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"README's model table lacks {name}"
    for resolution in spec.resolutions:
        assert resolution in row
    assert spec.duration_text in row
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
