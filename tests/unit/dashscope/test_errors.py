"""The provider's "this model does not exist", in either shape it may come, is told plainly."""

from __future__ import annotations

import pytest

from bot.dashscope.errors import DashScopeError, model_gone
from bot.engine import failures


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ModelNotFound", "Model not exist."),
        ("ModelNotFound", None),
        ("modelnotfound", "whatever"),
        ("InvalidParameter", "Model not exist."),
        ("InvalidParameter", "model NOT EXIST: wan2.6-i2v"),
    ],
)
def test_model_not_exist_is_recognised(code: str, message: str | None) -> None:
    assert model_gone(code, message)
    assert DashScopeError(404, code, message or "").model_gone
    assert failures.describe(code, message) == failures.MODEL_GONE
    assert "this model is no longer available" in str(failures.MODEL_GONE)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidParameter", "The size is not match"),
        ("Model.AccessDenied", "Model not exist."),
        (None, None),
    ],
)
def test_other_refusals_are_not_taken_for_a_missing_model(
    code: str | None, message: str | None
) -> None:
    assert not model_gone(code, message)
    assert failures.describe(code, message) != failures.MODEL_GONE
