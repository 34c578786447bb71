"""How an error is told to whoever hit it: a friendly refusal, or an apology with an id."""

from __future__ import annotations

from dataclasses import replace

import discord

from bot.domain.errors import QuotaExceeded, WanbotError
from bot.i18n import N_, Language
from cogs.render.pieces import BAD, timestamp

NOT_ALLOWED = N_("You are not allowed to use this command here.")


def error_text(lang: Language, error: WanbotError) -> str:
    """What a member reads for one of our errors, in their language."""
    if isinstance(error, QuotaExceeded):
        return quota_refusal(lang, error)
    return lang.render(error.text)


def problem(message: str) -> discord.Embed:
    """A friendly refusal: what is wrong and what to change."""
    return discord.Embed(description=message, colour=BAD)


def apology(lang: Language, error_id: str) -> discord.Embed:
    return discord.Embed(
        title=lang.gettext("Sorry, something went wrong"),
        description=lang.gettext(
            "It has been logged. If it keeps happening, tell a moderator the error id `{id}`.",
            id=error_id,
        ),
        colour=BAD,
    )


def quota_refusal(lang: Language, refused: QuotaExceeded) -> str:
    """Why a video was refused for lack of quota, for the member who asked: the domain's
    message, with a Discord timestamp (in the reader's own time zone) for when it renews."""
    text = refused.text
    if "renews" in text.params:
        text = replace(text, params={**text.params, "renews": timestamp(refused.renews_at, "f")})
    return lang.render(text)
