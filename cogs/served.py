"""What the cogs are handed, and the bot as they see it: a discord.py bot that carries it.

The entry that loads the cogs builds these (its `Services` extend `CogServices`; its bot is a
`ServedBot`) and hands them over; the cogs depend on what is declared here, never on the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from discord.ext import commands

from bot.engine.inputs import InputStore
from bot.engine.key_ring import KeyRing
from bot.engine.runner import Engine
from bot.media.pools import MediaWorkers
from bot.net.fetch import Session
from storage.guild_settings import GuildSettingsStore
from storage.jobs import JobStore
from storage.member_settings import MemberSettingsStore
from storage.quotas import QuotaStore


class CogSettings(Protocol):
    """The few settings the cogs read (the entry's settings have them)."""

    @property
    def max_waiting_per_user(self) -> int:
        """How many jobs a member may have waiting at once."""

    @property
    def cost_per_second_usd(self) -> float:
        """What a second of video costs, for the usage report's estimate."""


@dataclass(kw_only=True)
class CogServices:
    """The stores, clients and engine the cogs use, built once and handed to the bot."""

    settings: CogSettings
    session: Session  # handed to the intake, which fetches members' inputs with it
    jobs: JobStore
    quotas: QuotaStore
    guild_settings: GuildSettingsStore
    member_settings: MemberSettingsStore  # each member's own defaults per server
    keys: KeyRing  # every configured DashScope key, its client, and the choice of one per job
    workers: MediaWorkers  # PyAV and Pillow work, off the event loop and bounded
    engine: Engine | None = None  # started in setup_hook: its notifier needs the bot
    # Members' inputs kept for Retry and Remix once their uploads expire (None: none kept).
    inputs: InputStore | None = None

    @property
    def running_engine(self) -> Engine:
        """The engine, once the bot has started it."""
        if self.engine is None:
            raise RuntimeError("the engine starts in setup_hook")
        return self.engine


class ServedBot(commands.Bot):
    """A bot with the services built for it; the cogs read them when a command runs."""

    @property
    def services(self) -> CogServices:
        raise NotImplementedError

    @property
    def engine(self) -> Engine:
        return self.services.running_engine
