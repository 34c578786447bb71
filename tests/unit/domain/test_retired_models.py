"""Models that leave: the catalogue marks a model retired (when, and who says so); retired models
and the ones a server hides are not offered, never chosen by default, and refused by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.domain.catalog import (
    DEFAULT_MODEL,
    MODELS,
    OPERATOR_SETTING,
    RETIRED,
    Inputs,
    MediaType,
    Menu,
    Retirement,
    first_taker,
    offered,
    retired_with,
    retirement,
)
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings

FIRST = frozenset({MediaType.FIRST_FRAME})
ANIMATE = Inputs(FIRST, frozenset({MediaType.DRIVING_AUDIO}))


def test_no_model_is_retired_on_a_third_partys_word() -> None:
    # wan2.6's retirement is one reseller's claim (../shared/dashscope-api.md §7.8): the operator
    # retires it with WANBOT_RETIRED_MODELS if they choose; the catalogue waits for Alibaba.
    assert frozenset() == RETIRED
    assert all(spec.retired is None for spec in MODELS.values())


def test_a_retirement_is_data_with_its_date_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    notice = Retirement(source="https://example.com/notice", on=date(2027, 1, 1))
    gone = replace(MODELS["wan2.6-i2v"], retired=notice)
    monkeypatch.setitem(MODELS, "wan2.6-i2v", gone)
    assert retirement("wan2.6-i2v") == notice
    assert retirement("wan2.6-i2v-flash", frozenset({"wan2.6-i2v-flash"})) == Retirement(
        source=OPERATOR_SETTING
    )
    assert retirement("wan2.7-i2v") is None
    assert gone == MODELS["wan2.6-i2v"], "a retirement does not change what the model is"


def test_retired_models_are_not_offered() -> None:
    retired = retired_with(["wan2.6-i2v-flash"])
    assert "wan2.6-i2v-flash" in retired
    assert "wan2.6-i2v-flash" not in [spec.name for spec in offered(retired)]
    menu = Menu.of(ANIMATE, retired)
    assert "wan2.6-i2v-flash" not in menu.models and "wan2.6-i2v" in menu.models
    assert "wan2.6-i2v-flash" in Menu.of(ANIMATE).models


def test_the_default_passes_over_unavailable_models() -> None:
    assert first_taker(FIRST, template=False) == DEFAULT_MODEL
    assert first_taker(FIRST, template=False, unavailable=frozenset({DEFAULT_MODEL})) == (
        "wan2.6-i2v-flash"
    )
    everyone = frozenset(MODELS)
    assert first_taker(FIRST, template=False, unavailable=everyone) == DEFAULT_MODEL
    # None left that takes them: the one that would have been used, which refuses by name.
    effect = first_taker(FIRST, template=True, unavailable=frozenset({"wanx2.1-kf2v-plus"}))
    assert effect == "wanx2.1-kf2v-plus"


def test_a_server_hides_a_model_and_it_is_refused_by_name() -> None:
    rules = GuildSettings(1, default_model="wan2.6-i2v").with_model_hidden(
        "wan2.6-i2v", hidden=True
    )
    assert rules.hidden_models == {"wan2.6-i2v"}
    assert rules.default_model_for(FIRST, template=False) is None, "a hidden default is not used"
    assert rules.model_for(None, FIRST, template=False) == DEFAULT_MODEL
    with pytest.raises(InvalidInput, match="wan2.6-i2v is not offered on this server") as refused:
        rules.model_for("wan2.6-i2v", FIRST, template=False)
    assert refused.value.field == "model"
    assert rules.with_model_hidden("wan2.6-i2v", hidden=False).hidden_models == frozenset()


def test_a_retired_model_is_refused_and_never_the_default() -> None:
    retired = frozenset({"wan2.7-i2v"})
    rules = GuildSettings(1, default_model="wan2.7-i2v")
    assert rules.model_for(None, FIRST, template=False, retired=retired) == "wan2.6-i2v-flash"
    with pytest.raises(InvalidInput, match="wan2.7-i2v has been retired"):
        rules.model_for("wan2.7-i2v", FIRST, template=False, retired=retired)
