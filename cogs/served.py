"""The bot as the cogs see it: a discord.py bot that carries the Services (`bot.run.app.WanBot`)."""

from __future__ import annotations

from discord.ext import commands

from bot.engine.runner import Engine
from bot.run.services import Services


class ServedBot(commands.Bot):
    """A bot with the services built for it; the cogs read them when a command runs."""

    @property
    def services(self) -> Services:
        raise NotImplementedError

    @property
    def engine(self) -> Engine:
        return self.services.running_engine
