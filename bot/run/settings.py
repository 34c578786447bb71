"""Settings, read once in main() and passed down; nothing else reads the environment.

DashScope's own conventions come first: the key from `DASHSCOPE_API_KEY`, else
`dashscope_api_key` in `~/.alibabacloud/credentials`; the base URL from `--base-url`, else
`DASHSCOPE_HTTP_BASE_URL`, else `DASHSCOPE_BASE_URL`, else the region's URL. wanbot's own
settings use the `WANBOT_` prefix. Several keys come from `WANBOT_DASHSCOPE_KEYS` (a JSON list,
or the path of a JSON file holding one), which then replaces the single key.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from bot.dashscope.client import check_base_url
from bot.domain.catalog import MODELS, REGION_BASE_URLS, Region, retired_with
from bot.domain.errors import InvalidInput
from bot.domain.quota import Period
from bot.engine.key_ring import DEFAULT_KEY_NAME, KeyConfig
from bot.engine.runner import EngineConfig
from bot.engine.timing import PollPlanner
from storage.database import is_postgres_url

# A submit the client gave up on may still make its task a little later at the provider.
SUBMIT_MARGIN_SECONDS = 15.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WANBOT_", extra="ignore")

    dashscope_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DASHSCOPE_API_KEY")
    )
    dashscope_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_BASE_URL"),
    )
    region: Region = Region.BEIJING
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "WANBOT_DISCORD_TOKEN")
    )
    credentials_file: Path = Path("~/.alibabacloud/credentials")
    # Several keys: a JSON list of {"name", "api_key", ...}, or the path of a JSON file with one.
    dashscope_keys: SecretStr | None = None

    # The job engine. SQLite at database_path, unless database_url names a PostgreSQL server
    # (postgresql://user@host:5432/wanbot), which several processes can share. Its password:
    # percent-encoded in the URL, or database_password, or a file holding it (a Docker secret),
    # else libpq's PGPASSWORD / PGPASSFILE.
    database_path: Path = Path("data/wanbot.sqlite3")
    database_url: SecretStr | None = None
    database_password: SecretStr | None = None
    database_password_file: Path | None = None
    spool_dir: Path = Path("data/spool")
    # The bytes of members' inputs, kept this many days so that Retry and Remix can make a video
    # again after the provider's 48-hour copy is gone (0: keep nothing); the folder defaults to
    # `inputs` beside the spool.
    inputs_dir: Path | None = None
    input_days: int = Field(default=7, ge=0)
    concurrency: dict[str, int] = Field(default_factory=dict)  # per model, e.g. {"wan2.7-i2v": 3}
    submit_per_second: dict[str, int] = Field(default_factory=dict)
    query_budget_per_second: float = Field(default=18.0, gt=0, le=20)
    poll_lag_price_seconds: float = Field(default=PollPlanner.lag_price, gt=0)
    poll_dense_seconds: float = Field(default=4.0, gt=0)
    poll_longest_seconds: float = Field(default=60.0, gt=0)
    max_waiting_per_user: int = Field(default=5, ge=1)
    # Provider times `generate` learned, kept for its next run (the bot keeps them in its database).
    durations_file: Path = Field(default_factory=lambda: _cache_dir() / "durations.json")
    # How long one submit to DashScope may take before it is given up as unclear. A submit whose
    # outcome was never seen (the process stopped) is reconciled only once this, plus a margin,
    # has passed since it was sent: after a crash mid-submit, that job waits that long.
    submit_timeout_seconds: float = Field(default=75.0, ge=1.0, le=600.0)
    # A job whose provider answers cannot be read for this long ends refunded, with an apology.
    unreadable_give_up_seconds: float = Field(default=120.0, gt=0)
    reuse_results: bool = False
    # Several processes (PostgreSQL): deliveries one process carries at once, how long its claim
    # on one (and the scheduler's term) lasts unless renewed, and how often it looks for work and
    # for the scheduler's lock.
    delivery_slots: int = Field(default=4, ge=1)
    lease_seconds: float = Field(default=20.0, ge=5.0)
    tick_seconds: float = Field(default=2.0, gt=0, le=10.0)
    # The provider's answers and the state changes of jobs that ended longer ago are deleted
    # (the quota ledger is kept at least for the periods usage reports show); 0: keep everything.
    retention_days: int = Field(default=90, ge=0)
    # `run` and `worker` wait this long at start for a PostgreSQL or Discord that does not
    # answer yet (trying again with backoff), then give up; 0: no waiting.
    startup_retry_seconds: float = Field(default=300.0, ge=0)

    # Metrics and /healthz over HTTP (docs/metrics.md): off unless a port is set (0: any free
    # port, logged). Loopback by default: the endpoint has no password and names keys and models.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    # Discord
    heartbeat_path: Path = Path("data/heartbeat")  # touched while connected; see `bot health`
    progress_edit_seconds: float = Field(default=5.0, ge=1.0)  # at most one status edit this often
    cost_per_second_usd: float = Field(default=0.10, ge=0)  # for usage reports' cost estimate

    # Models retired by the operator, comma-separated ("wan2.6-i2v-flash"): not offered, refused
    # when asked for, and a job still waiting for one ends refunded (README, Models).
    retired_models: str = ""

    # Quotas, in seconds of video
    quota_default_seconds: int = Field(default=60, ge=0)
    quota_period: Period = Period.WEEK

    def api_key(self) -> SecretStr | None:
        """Return the DashScope key from the environment, else from the credentials file."""
        if self.dashscope_api_key and self.dashscope_api_key.get_secret_value().strip():
            return self.dashscope_api_key
        return read_credentials_key(self.credentials_file.expanduser())

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_is_off(cls, port: object) -> object:
        return None if isinstance(port, str) and not port.strip() else port

    @field_validator("retired_models")
    @classmethod
    def _known_models(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if unknown := [name for name in names if name not in MODELS]:
            raise ValueError(
                f"unknown model “{unknown[0]}”; give model names separated by commas, from:"
                f" {', '.join(MODELS)}"
            )
        return ",".join(names)

    def retired(self) -> frozenset[str]:
        """Every retired model: the catalogue's and the operator's (WANBOT_RETIRED_MODELS)."""
        return retired_with(name for name in self.retired_models.split(",") if name)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, url: SecretStr | None) -> SecretStr | None:
        value = url.get_secret_value().strip() if url else ""
        if value and not is_postgres_url(value):
            # Never echo the value: it may carry a password.
            raise ValueError("must start with postgresql://")
        return url

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.lease_seconds < 2 * self.tick_seconds:
            raise ValueError(
                f"WANBOT_LEASE_SECONDS ({self.lease_seconds:g}) must be at least twice"
                f" WANBOT_TICK_SECONDS ({self.tick_seconds:g}): a delivery's lease is renewed"
                " once a tick, and must outlive a late one"
            )
        password = self.database_password and self.database_password.get_secret_value()
        if password and self.database_password_file is not None:
            raise ValueError(
                "set WANBOT_DATABASE_PASSWORD or WANBOT_DATABASE_PASSWORD_FILE, not both"
            )
        if (password or self.database_password_file) and _url_has_password(self.database_url):
            raise ValueError(
                "WANBOT_DATABASE_URL holds a password and WANBOT_DATABASE_PASSWORD(_FILE) gives"
                " one too: keep one of them"
            )
        return self

    def for_simulator(self) -> Settings:
        """The settings of a process on the built-in simulator: a SQLite file and a spool of its
        own beside the real ones, so its free test videos never mix with real jobs (nor does the
        real spool's clean-up meet the simulator's files, or the other way round)."""
        path, spool, inputs = self.database_path, self.spool_dir, self.input_folder
        return self.model_copy(
            update={
                "database_url": None,
                "database_path": path.with_name(f"{path.stem}-simulator{path.suffix}"),
                "spool_dir": spool.with_name(f"{spool.name}-simulator"),
                "inputs_dir": inputs.with_name(f"{inputs.name}-simulator"),
            }
        )

    @property
    def input_folder(self) -> Path:
        """Where members' inputs are kept: WANBOT_INPUTS_DIR, else `inputs` beside the spool."""
        return self.inputs_dir or self.spool_dir.parent / "inputs"

    def database_target(self) -> str | Path:
        """Where the data lives: the PostgreSQL URL if set, else the SQLite file."""
        url = self.database_url.get_secret_value().strip() if self.database_url else ""
        return url or self.database_path

    def database_password_text(self) -> str | None:
        """The PostgreSQL password given beside the URL, in plain text for the connection only:
        WANBOT_DATABASE_PASSWORD, or the contents of WANBOT_DATABASE_PASSWORD_FILE (without its
        final line break); None when neither is set (then the URL's own, else PGPASSWORD or
        PGPASSFILE). Raise InvalidInput, naming the file, when it cannot be read."""
        if self.database_password is not None and self.database_password.get_secret_value():
            return self.database_password.get_secret_value()
        if self.database_password_file is None:
            return None
        path = self.database_password_file.expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError):
            raise InvalidInput(
                f"WANBOT_DATABASE_PASSWORD_FILE: cannot read {path} (a file holding the password)"
            ) from None
        return text.removesuffix("\n").removesuffix("\r") or None

    def api_keys(self) -> list[KeyConfig]:
        """The DashScope keys to use, in order: WANBOT_DASHSCOPE_KEYS when set, else the one key
        (named `default`), else none. Raise InvalidInput, never showing a key, when the list is
        not right."""
        if self.dashscope_keys is not None and self.dashscope_keys.get_secret_value().strip():
            return parse_keys(self.dashscope_keys.get_secret_value())
        key = self.api_key()
        return [] if key is None else [KeyConfig(name=DEFAULT_KEY_NAME, api_key=key)]

    def key_base_url(self, key: KeyConfig) -> str:
        """A key's base URL: its own, else its own region's, else the bot's (see `base_url`)."""
        if key.base_url:
            return check_base_url(key.base_url)
        if key.region is not None:
            return REGION_BASE_URLS[key.region]
        return self.base_url()

    def base_url(self, override: str | None = None, region: Region | None = None) -> str:
        """Return the API base URL: `override`, the environment, else the region's URL."""
        if override or self.dashscope_base_url:
            return check_base_url(override or self.dashscope_base_url or "")
        return REGION_BASE_URLS[region or self.region]

    def planner(self) -> PollPlanner:
        return PollPlanner(
            lag_price=self.poll_lag_price_seconds,
            dense_interval=self.poll_dense_seconds,
            longest_interval=self.poll_longest_seconds,
        )

    def engine_config(self) -> EngineConfig:
        """The engine's settings; catalogue defaults apply where nothing is set."""
        return EngineConfig(
            spool_dir=self.spool_dir,
            inputs_dir=self.input_folder,
            input_days=self.input_days,
            concurrency=self.concurrency,
            submit_per_second=self.submit_per_second,
            query_budget_per_second=self.query_budget_per_second,
            planner=self.planner(),
            max_waiting_per_user=self.max_waiting_per_user,
            reuse_results=self.reuse_results,
            unreadable_give_up_seconds=self.unreadable_give_up_seconds,
            submit_deadline_seconds=self.submit_timeout_seconds + SUBMIT_MARGIN_SECONDS,
            delivery_slots=self.delivery_slots,
            lease_seconds=self.lease_seconds,
            tick_seconds=self.tick_seconds,
            retention_days=self.retention_days,
            retired_models=self.retired(),
        )


def _url_has_password(url: SecretStr | None) -> bool:
    """Whether a URL's user part carries a password (`user:password@`)."""
    netloc = urlsplit(url.get_secret_value().strip()).netloc if url else ""
    auth, at, _ = netloc.rpartition("@")
    return bool(at) and bool(auth.partition(":")[2])


def variable(name: str) -> str:
    """The environment variable of a setting (its first alias, else WANBOT_ and its name)."""
    field = Settings.model_fields.get(name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"WANBOT_{name.upper()}" if field is not None else name.upper()


# What the settings read as JSON look like (the others are plain text).
_JSON_EXAMPLES = {"concurrency": '{"wan2.7-i2v": 3}', "submit_per_second": '{"wan2.7-i2v": 2}'}


def source_error(error: SettingsError) -> str:
    """One line for a setting that could not be read at all (JSON that is not JSON): its
    variable and the shape it takes, never the text given (it may hold a secret)."""
    found = re.search(r'field "(\w+)"', str(error))
    if found is None:
        return str(error)
    cause = error.__cause__
    where = (
        f" ({cause.msg} at column {cause.colno})" if isinstance(cause, json.JSONDecodeError) else ""
    )
    example = _JSON_EXAMPLES.get(found.group(1))
    shape = f"JSON like {example}" if example else "valid JSON"
    return f"{variable(found.group(1))} is not valid JSON{where}: give {shape}"


def setting_errors(error: ValidationError) -> list[str]:
    """One line per problem, each naming its environment variable, never repeating the value
    given (it may be a secret)."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:
            lines.append(message)
            continue
        where = ".".join([variable(str(problem["loc"][0])), *map(str, problem["loc"][1:])])
        lines.append(f"{where}: {message}")
    return lines


def _cache_dir() -> Path:
    """The user's cache folder for wanbot (XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "wanbot"


_KEYS = "WANBOT_DASHSCOPE_KEYS"
_KEYS_SHAPE = 'a JSON list like [{"name": "main", "api_key": "sk-…"}]'


def parse_keys(text: str) -> list[KeyConfig]:
    """Read WANBOT_DASHSCOPE_KEYS: a JSON list, or the path of a JSON file holding one. Every
    error names the entry and field at fault, and never repeats what was given (keys are in it)."""
    text = text.strip()
    if not text.startswith(("[", "{")):
        path = Path(text).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError):
            raise InvalidInput(
                f"{_KEYS} is neither {_KEYS_SHAPE} nor the path of a readable file holding one."
            ) from None
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise InvalidInput(f"{_KEYS} is not valid JSON ({error.msg} at {where}).") from None
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{_KEYS} must be {_KEYS_SHAPE}, with at least one key.")
    keys = [_key_entry(number, entry) for number, entry in enumerate(entries, start=1)]
    seen: set[str] = set()
    for key in keys:
        if key.name in seen:
            raise InvalidInput(f"{_KEYS}: two keys are named “{key.name}”; give each its own name.")
        seen.add(key.name)
    return keys


def _key_entry(number: int, entry: Any) -> KeyConfig:
    """One entry of the list, checked; errors say where without showing what was given."""
    label = f"{_KEYS}: key {number}"
    if not isinstance(entry, dict):
        raise InvalidInput(f'{label} must be an object like {{"name": …, "api_key": …}}.')
    if isinstance(entry.get("name"), str):
        label += f" (“{entry['name']}”)"
    try:
        key = KeyConfig.model_validate(entry)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'entry'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        raise InvalidInput(f"{label}: {problems}.") from None
    if not key.api_key.get_secret_value().strip():
        raise InvalidInput(f"{label}: api_key is empty.")
    if not key.name.strip():
        raise InvalidInput(f"{label}: name is empty.")
    for setting in ("concurrency", "submit_per_second"):
        limits: dict[str, int] = getattr(key, setting)
        for model, value in limits.items():
            if model not in MODELS:
                raise InvalidInput(f"{label}: {setting} names an unknown model “{model}”.")
            if value < 1:
                raise InvalidInput(f"{label}: {setting} for {model} must be at least 1.")
    if key.base_url:
        try:
            check_base_url(key.base_url)
        except InvalidInput as error:
            raise InvalidInput(f"{label}: {error}") from None
    return key


def read_credentials_key(path: Path) -> SecretStr | None:
    """Read `dashscope_api_key` from an Alibaba Cloud credentials file ([default] first)."""
    if not path.is_file():
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return None
    sections = ["default", *(s for s in parser.sections() if s != "default")]
    for section in sections:
        value = parser.get(section, "dashscope_api_key", fallback="").strip()
        if value:
            return SecretStr(value)
    return None
