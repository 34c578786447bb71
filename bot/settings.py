"""Settings, read once in main() and passed down; nothing else reads the environment.

DashScope's own conventions come first: the key from `DASHSCOPE_API_KEY`, else
`dashscope_api_key` in `~/.alibabacloud/credentials`; the base URL from `--base-url`, else
`DASHSCOPE_HTTP_BASE_URL`, else `DASHSCOPE_BASE_URL`, else the region's URL. wanbot's own
settings use the `WANBOT_` prefix.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.catalog import REGION_BASE_URLS, Region
from bot.dashscope.client import check_base_url
from bot.engine.runner import EngineConfig
from bot.engine.schedule import PollPlanner
from storage.allowances import Period
from storage.database import is_postgres_url


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

    # The job engine. SQLite at database_path, unless database_url names a PostgreSQL server
    # (postgresql://user:password@host:5432/wanbot), which several processes can share.
    database_path: Path = Path("data/wanbot.sqlite3")
    database_url: SecretStr | None = None
    spool_dir: Path = Path("data/spool")
    concurrency: dict[str, int] = Field(default_factory=dict)  # per model, e.g. {"wan2.7-i2v": 3}
    submit_per_second: dict[str, int] = Field(default_factory=dict)
    query_budget_per_second: float = Field(default=18.0, gt=0, le=20)
    poll_dense_seconds: float = Field(default=4.0, gt=0)
    poll_longest_seconds: float = Field(default=60.0, gt=0)
    max_waiting_per_user: int = Field(default=5, ge=1)
    # Provider times `generate` learned, kept for its next run (the bot keeps them in its database).
    durations_file: Path = Field(default_factory=lambda: _cache_dir() / "durations.json")
    # A job whose provider answers cannot be read for this long ends refunded, with an apology.
    unreadable_give_up_seconds: float = Field(default=120.0, gt=0)
    reuse_results: bool = False
    # Several processes (PostgreSQL): deliveries one process carries at once, how long its claim
    # on one lasts unless renewed, and how often it looks for work and for the scheduler's lock.
    delivery_slots: int = Field(default=8, ge=1)
    lease_seconds: float = Field(default=30.0, ge=5.0)
    tick_seconds: float = Field(default=2.0, gt=0, le=10.0)

    # Discord
    heartbeat_path: Path = Path("data/heartbeat")  # touched while connected; see `bot health`
    progress_edit_seconds: float = Field(default=5.0, ge=1.0)  # at most one status edit this often
    cost_per_second_usd: float = Field(default=0.10, ge=0)  # for usage reports' cost estimate

    # Quotas, in seconds of video
    quota_default_seconds: int = Field(default=60, ge=0)
    quota_period: Period = Period.WEEK

    def api_key(self) -> SecretStr | None:
        """Return the DashScope key from the environment, else from the credentials file."""
        if self.dashscope_api_key and self.dashscope_api_key.get_secret_value().strip():
            return self.dashscope_api_key
        return read_credentials_key(self.credentials_file.expanduser())

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, url: SecretStr | None) -> SecretStr | None:
        value = url.get_secret_value().strip() if url else ""
        if value and not is_postgres_url(value):
            # Never echo the value: it may carry a password.
            raise ValueError("WANBOT_DATABASE_URL must start with postgresql://")
        return url

    def database_target(self) -> str | Path:
        """Where the data lives: the PostgreSQL URL if set, else the SQLite file."""
        url = self.database_url.get_secret_value().strip() if self.database_url else ""
        return url or self.database_path

    def base_url(self, override: str | None = None, region: Region | None = None) -> str:
        """Return the API base URL: `override`, the environment, else the region's URL."""
        if override or self.dashscope_base_url:
            return check_base_url(override or self.dashscope_base_url or "")
        return REGION_BASE_URLS[region or self.region]

    def planner(self) -> PollPlanner:
        return PollPlanner(
            dense_interval=self.poll_dense_seconds, longest_interval=self.poll_longest_seconds
        )

    def engine_config(self) -> EngineConfig:
        """The engine's settings; catalogue defaults apply where nothing is set."""
        return EngineConfig(
            spool_dir=self.spool_dir,
            concurrency=self.concurrency,
            submit_per_second=self.submit_per_second,
            query_budget_per_second=self.query_budget_per_second,
            planner=self.planner(),
            max_waiting_per_user=self.max_waiting_per_user,
            reuse_results=self.reuse_results,
            unreadable_give_up_seconds=self.unreadable_give_up_seconds,
            delivery_slots=self.delivery_slots,
            lease_seconds=self.lease_seconds,
            tick_seconds=self.tick_seconds,
        )


def _cache_dir() -> Path:
    """The user's cache folder for wanbot (XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "wanbot"


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
