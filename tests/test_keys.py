"""Several DashScope keys: WANBOT_DASHSCOPE_KEYS as a list or a file, its errors, no key shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.catalog import Region
from bot.errors import InvalidInput
from bot.settings import Settings

KEY_A, KEY_B = "sk-keys-a-0123456789", "sk-keys-b-9876543210"


# -- settings -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("WANBOT_DASHSCOPE_KEYS", "WANBOT_REGION", "WANBOT_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANBOT_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


KEYS_JSON = json.dumps(
    [
        {"name": "main", "api_key": KEY_A, "concurrency": {"wan2.7-i2v": 3}},
        {
            "name": "spare",
            "api_key": KEY_B,
            "region": "singapore",
            "submit_per_second": {"wan2.7-i2v": 2},
            "query_budget_per_second": 10,
        },
    ]
)


def test_keys_come_from_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", KEYS_JSON)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-the-single-key")  # the list replaces it
    main, spare = Settings().api_keys()
    assert (main.name, main.api_key.get_secret_value(), main.region) == ("main", KEY_A, None)
    assert main.concurrency == {"wan2.7-i2v": 3} and main.query_budget_per_second is None
    assert (spare.name, spare.region, spare.query_budget_per_second) == (
        "spare",
        Region.SINGAPORE,
        10,
    )


def test_keys_come_from_a_json_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(KEYS_JSON)
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", str(path))
    assert [key.name for key in Settings().api_keys()] == ["main", "spare"]


def test_the_single_key_is_one_key_named_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().api_keys() == []
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-the-single-key")
    (key,) = Settings().api_keys()
    assert key.name == "default" and key.api_key.get_secret_value() == "sk-the-single-key"
    assert key.concurrency == {} and key.region is None and key.base_url is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('[{"name": "main", "api_key": "sk-secret-1"', "is not valid JSON"),
        ("[]", "at least one key"),
        ('{"name": "main", "api_key": "sk-secret-1"}', "must be a JSON list"),
        ("sk-secret-1", "nor the path of a readable file"),
        ('[{"api_key": "sk-secret-1"}]', "key 1: name: Field required"),
        ('[{"name": "main", "api_key": "  "}]', "key 1 (“main”): api_key is empty"),
        (
            '[{"name": "a", "api_key": "sk-secret-1"}, {"name": "a", "api_key": "sk-secret-2"}]',
            "two keys are named “a”",
        ),
        ('[{"name": "a", "api_key": "sk-secret-1", "colour": "red"}]', "colour: Extra inputs"),
        ('[{"name": "a", "api_key": "sk-secret-1", "region": "mars"}]', "region: Input should"),
        (
            '[{"name": "a", "api_key": "sk-secret-1", "concurrency": {"wan9": 1}}]',
            "unknown model “wan9”",
        ),
        (
            '[{"name": "a", "api_key": "sk-secret-1", "query_budget_per_second": 25}]',
            "query_budget_per_second: Input should be less than or equal to 20",
        ),
        (
            '[{"name": "a", "api_key": "sk-secret-1", "base_url": "http://example.com/api/v1"}]',
            "plain http",
        ),
    ],
)
def test_a_bad_list_is_refused_plainly_without_showing_a_key(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", value)
    settings = Settings()  # built, never shown: the list is read when the keys are needed
    with pytest.raises(InvalidInput) as refused:
        settings.api_keys()
    assert problem in str(refused.value)
    assert "WANBOT_DASHSCOPE_KEYS" in str(refused.value)
    assert "sk-secret" not in str(refused.value) and "sk-secret" not in repr(refused.value)


def test_keys_never_show_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", KEYS_JSON)
    settings = Settings()
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    shown += repr(settings.api_keys()) + str(settings.api_keys())
    assert KEY_A not in shown and KEY_B not in shown
