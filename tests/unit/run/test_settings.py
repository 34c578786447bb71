"""Settings follow DashScope's conventions for the key and the base URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.domain.catalog import Region
from bot.domain.errors import InvalidInput
from bot.run.settings import Settings, setting_errors


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DASHSCOPE_API_KEY",
        "DASHSCOPE_HTTP_BASE_URL",
        "DASHSCOPE_BASE_URL",
        "WANBOT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)


def credentials(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "credentials"
    path.write_text(text)
    return path


def test_key_comes_from_the_environment_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    file = credentials(tmp_path, "[default]\ndashscope_api_key = sk-file\n")
    key = Settings(credentials_file=file).api_key()
    assert key is not None and key.get_secret_value() == "sk-env"


def test_key_falls_back_to_the_credentials_file(tmp_path: Path) -> None:
    file = credentials(tmp_path, "[other]\nx = 1\n[default]\ndashscope_api_key = sk-file\n")
    key = Settings(credentials_file=file).api_key()
    assert key is not None and key.get_secret_value() == "sk-file"


def test_no_key_anywhere_is_none(tmp_path: Path) -> None:
    assert Settings(credentials_file=tmp_path / "missing").api_key() is None
    assert Settings(credentials_file=credentials(tmp_path, "not an ini file")).api_key() is None


def test_the_key_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-secret-123")
    settings = Settings()
    assert "sk-secret-123" not in repr(settings)
    assert "sk-secret-123" not in str(settings.model_dump())


def test_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().base_url() == "https://dashscope.aliyuncs.com/api/v1"
    assert (
        Settings().base_url(region=Region.SINGAPORE) == "https://dashscope-intl.aliyuncs.com/api/v1"
    )
    assert Settings(region="us").base_url() == "https://dashscope-us.aliyuncs.com/api/v1"
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "https://base.example/api/v1")
    assert Settings().base_url() == "https://base.example/api/v1"
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "https://http-base.example/api/v1/")
    assert Settings().base_url() == "https://http-base.example/api/v1"
    assert Settings().base_url("http://127.0.0.1:9/api/v1") == "http://127.0.0.1:9/api/v1"


def test_a_malformed_base_url_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is not a web address"):
        Settings().base_url("dashscope.aliyuncs.com")


def test_the_operator_retires_models_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retired() == frozenset()
    monkeypatch.setenv("WANBOT_RETIRED_MODELS", " wan2.6-i2v-flash , wan2.6-i2v,")
    settings = Settings()
    assert settings.retired() == {"wan2.6-i2v-flash", "wan2.6-i2v"}
    assert settings.engine_config().retired_models == settings.retired()


def test_an_unknown_retired_model_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANBOT_RETIRED_MODELS", "wan2.6-i2v-flash,wan9")
    with pytest.raises(ValidationError) as error:
        Settings()
    [line] = setting_errors(error.value)
    assert line.startswith("WANBOT_RETIRED_MODELS: unknown model “wan9”")
    assert "wan2.6-i2v-flash" in line, "it names the models there are"


def test_the_price_of_a_poll_is_the_operators_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings().engine_config().planner
    monkeypatch.setenv("WANBOT_POLL_LAG_PRICE_SECONDS", "0.5")
    dearer = Settings().engine_config().planner
    assert (default.lag_price, dearer.lag_price) == (0.21, 0.5)
    monkeypatch.setenv("WANBOT_POLL_LAG_PRICE_SECONDS", "0")
    with pytest.raises(ValidationError):
        Settings()
