"""How an error is told to whoever hit it: a friendly refusal, or an apology with an id."""

from __future__ import annotations

import discord

from bot.domain.errors import WanbotError
from bot.i18n import N_, Language
from cogs.render.pieces import BAD, timestamp
from storage.allowances import Period, QuotaExceeded

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
    """Why a video was refused for lack of quota, for the member who asked."""
    renews = timestamp(refused.renews_at, "f")
    if refused.reason == "blocked":
        why = refused.allowance.block_reason
        if why:
            return lang.gettext("You are blocked from making videos here: {why}.", why=why)
        return lang.gettext("You are blocked from making videos here by a moderator.")
    period = refused.allowance.period
    if refused.reason == "budget":
        return lang.gettext(
            _BUDGET_USED_UP[period],
            left=refused.remaining,
            needed=refused.needed,
            renews=renews,
        )
    return lang.gettext(
        _NOT_ENOUGH_LEFT[period], needed=refused.needed, left=refused.remaining, renews=renews
    )


_BUDGET_USED_UP = {
    Period.DAY: N_(
        "The server's video budget for today is used up ({left} s left, this video needs "
        "{needed} s); it renews {renews}."
    ),
    Period.WEEK: N_(
        "The server's video budget for this week is used up ({left} s left, this video needs "
        "{needed} s); it renews {renews}."
    ),
    Period.MONTH: N_(
        "The server's video budget for this month is used up ({left} s left, this video needs "
        "{needed} s); it renews {renews}."
    ),
}
_NOT_ENOUGH_LEFT = {
    Period.DAY: N_(
        "This video needs {needed} s of your quota but you have {left} s left today; it renews "
        "{renews}."
    ),
    Period.WEEK: N_(
        "This video needs {needed} s of your quota but you have {left} s left this week; it "
        "renews {renews}."
    ),
    Period.MONTH: N_(
        "This video needs {needed} s of your quota but you have {left} s left this month; it "
        "renews {renews}."
    ),
}
