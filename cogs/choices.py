"""Slash-command option types and choices that several cogs share, all read from the catalogue."""

from __future__ import annotations

from discord import app_commands

from bot.catalog import LONGEST_SECONDS, MODELS, RESOLUTIONS, SHORTEST_SECONDS, MediaType
from bot.i18n import _
from cogs.translator import translatable_choice

Duration = app_commands.Range[int, SHORTEST_SECONDS, LONGEST_SECONDS]
MODEL_CHOICES = [app_commands.Choice(name=name, value=name) for name in MODELS]
RESOLUTION_CHOICES = [app_commands.Choice(name=r, value=r) for r in RESOLUTIONS]


def model_choices(*, takes: frozenset[MediaType]) -> list[app_commands.Choice[str]]:
    """Models with a combination that includes `takes`, described for members."""
    return [
        translatable_choice(
            _("{model} — {summary}", model=spec.name, summary=spec.summary), spec.name
        )
        for spec in MODELS.values()
        if any(takes <= combination for combination in spec.combinations)
    ]
