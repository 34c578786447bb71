"""Everything /videoadmin says, in the moderator's language: usage, quota history, settings, what
each change did (and what it was before), and why a command was refused.

The replies to quota commands come first, then those to settings commands; each takes what the
command knows (the state before and after its change) and returns the one line it answers with.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.catalog import DEFAULT_MODEL, MODELS
from bot.domain.guild import GuildSettings
from bot.domain.quota import Allowance, GuildQuotaSettings, LedgerEntry, Period, UsageReport
from bot.i18n import LANGUAGE_NAMES, N_, Language, Text, _, _n
from bot.usage.words import estimated_cost, usage_title, videos_text
from cogs.render.member import quota as quota_embed
from cogs.render.pieces import BRAND, excerpt, timestamp

# -- what moderators read: usage, quota history, the server's settings -------------------------


def usage(
    lang: Language,
    report: UsageReport,
    cost_per_second: float | None = None,
    by_key: Sequence[tuple[str, int, int]] = (),
    *,
    previous: bool = False,
) -> discord.Embed:
    """The period's usage; `by_key`: seconds and videos per DashScope key, when there are several."""
    title = usage_title(lang, report.period, previous=previous)
    summary = lang.ngettext(
        "From {start} to {end}: **{s} s** in {n} video",
        "From {start} to {end}: **{s} s** in {n} videos",
        report.jobs,
        start=timestamp(report.period_start, "D"),
        end=timestamp(report.period_end, "D"),
        s=report.total_seconds,
    )
    if report.held_seconds:
        summary += " " + lang.gettext("({s} s still being made)", s=report.held_seconds)
    embed = discord.Embed(title=title, description=summary + ".", colour=BRAND)
    if report.budget_seconds is not None:
        embed.add_field(
            name=lang.gettext("Server budget"), value=lang.gettext("{s} s", s=report.budget_seconds)
        )
    if cost_per_second is not None:
        embed.add_field(
            name=lang.gettext("Estimated cost"),
            value=lang.gettext("about ${amount}", amount=estimated_cost(report, cost_per_second)),
        )
    if report.top_users:
        embed.add_field(
            name=lang.gettext("Top members"),
            value="\n".join(
                f"<@{user}>: {videos_text(lang, seconds, jobs)}"
                for user, seconds, jobs in report.top_users
            ),
            inline=False,
        )
    if by_key:
        embed.add_field(
            name=lang.gettext("By DashScope key"),
            value="\n".join(
                f"`{name}`: {videos_text(lang, seconds, jobs)}" for name, seconds, jobs in by_key
            ),
            inline=False,
        )
    return embed


RENEWALS = {
    Period.DAY: N_("Allowances now renew every day at 00:00 UTC."),
    Period.WEEK: N_("Allowances now renew every Monday at 00:00 UTC."),
    Period.MONTH: N_("Allowances now renew on the 1st of each month at 00:00 UTC."),
}


_PERIOD_NOUN = {Period.DAY: N_("day"), Period.WEEK: N_("week"), Period.MONTH: N_("month")}


def period_noun(lang: Language, period: Period) -> str:
    return lang.gettext(_PERIOD_NOUN[period])


def base_text(lang: Language, allowance: Allowance) -> str:
    """Where a member's allowance comes from, for "was …" in replies."""
    seconds, source = allowance.base_seconds, allowance.source
    if source == "override":
        return lang.gettext("their own {s} s", s=seconds)
    if source.startswith("role:"):
        return lang.gettext(
            "{s} s from {role}", s=seconds, role=f"<@&{source.removeprefix('role:')}>"
        )
    if source == "blocked":
        return lang.gettext("blocked")
    return lang.gettext("the server default, {s} s", s=seconds)


_LEDGER_VERBS = {
    "reserve": N_("held {s} s"),
    "commit": N_("charged {s} s"),
    "refund": N_("gave back {s} s"),
    "grant": N_("granted +{s} s"),
    "reset": N_("forgave {s} s"),
    "set_override": N_("own allowance set to {s} s"),
    "block": N_("blocked"),
    "unblock": N_("unblocked"),
}


def ledger_line(lang: Language, entry: LedgerEntry) -> str:
    if entry.kind == "set_override" and entry.reason == "override removed":
        what = lang.gettext("own allowance removed")
    elif entry.kind in _LEDGER_VERBS:
        seconds = -entry.seconds if entry.kind in {"refund", "reset"} else entry.seconds
        what = lang.gettext(_LEDGER_VERBS[entry.kind], s=seconds)
    else:
        what = entry.kind
    line = f"{timestamp(entry.at)} {what}"
    if entry.job_id is not None:
        line += " " + lang.gettext("(video #{id})", id=entry.job_id)
    if entry.actor_id is not None:
        line += " " + lang.gettext("by {mention}", mention=f"<@{entry.actor_id}>")
    if entry.reason and entry.kind in {"grant", "reset", "block", "refund"}:
        line += f": {excerpt(entry.reason, 80)}"
    return line


def ledger_text(lang: Language, entries: list[LedgerEntry]) -> str:
    if not entries:
        return lang.gettext("None yet.")
    return fit("\n".join(ledger_line(lang, e) for e in entries))


def fit(text: str, limit: int = 1024) -> str:
    """Cut text to an embed field's limit at a line break."""
    if len(text) <= limit:
        return text
    return text[: limit - 2].rsplit("\n", 1)[0] + "\n…"


def channels_text(lang: Language, channels: frozenset[int]) -> str:
    if not channels:
        return lang.gettext("Every channel")
    return fit(", ".join(f"<#{c}>" for c in sorted(channels)))


def spoiler(words: list[str] | tuple[str, ...]) -> str:
    """Banned words hidden behind a spoiler: moderators may not want to read them by accident."""
    return "||" + ", ".join(words).replace("|", "") + "||"


def words_text(lang: Language, words: tuple[str, ...]) -> str:
    if not words:
        return lang.gettext("None")
    shown = spoiler(words)
    if len(shown) < 1000:
        return f"{len(words)}: {shown}"
    return lang.gettext("{n} (too many to show)", n=len(words))


def model_text(lang: Language, model: str | None) -> str:
    return model or lang.gettext("the bot's default ({model})", model=DEFAULT_MODEL)


def hidden_models_text(lang: Language, hidden: frozenset[str]) -> str:
    # Translators: the hidden models in /videoadmin settings show, when no model is hidden.
    return ", ".join(sorted(hidden)) or lang.gettext("None: every model is offered")


def resolution_text(lang: Language, resolution: str | None) -> str:
    return resolution or lang.gettext("each model's default resolution")


def duration_limit_text(lang: Language, seconds: int | None) -> str:
    if seconds is None:
        return lang.gettext("each model's limit")
    return lang.gettext("{s} s", s=seconds)


def watermark_text(lang: Language, forced: bool) -> str:
    return lang.gettext("always added") if forced else lang.gettext("members choose")


def language_text(lang: Language, code: str | None) -> str:
    """A server's language setting as moderators read it."""
    if code is None:
        return lang.gettext("Discord's server language")
    return LANGUAGE_NAMES.get(code, code)


def per_period(lang: Language, seconds: int, period: Period) -> str:
    return lang.gettext("{s} s per {period}", s=seconds, period=period_noun(lang, period))


def guild_settings(
    lang: Language, settings: GuildSettings, quota: GuildQuotaSettings
) -> discord.Embed:
    """Every video setting of a server, for /videoadmin settings show."""
    embed = discord.Embed(title=lang.gettext("Video settings"), colour=BRAND)
    moderators = lang.gettext("Manage Server")
    if settings.moderator_role_id is not None:
        moderators = lang.gettext(
            "Manage Server, or {role}", role=f"<@&{settings.moderator_role_id}>"
        )
    embed.add_field(name=lang.gettext("Moderators"), value=moderators)
    embed.add_field(
        name=lang.gettext("Channels"), value=channels_text(lang, settings.allowed_channels)
    )
    embed.add_field(
        name=lang.gettext("Banned words"), value=words_text(lang, settings.banned_words)
    )
    embed.add_field(
        name=lang.gettext("Default model"), value=model_text(lang, settings.default_model)
    )
    embed.add_field(
        name=lang.gettext("Default resolution"),
        value=resolution_text(lang, settings.default_resolution),
    )
    embed.add_field(
        name=lang.gettext("Longest video"), value=duration_limit_text(lang, settings.max_duration)
    )
    embed.add_field(
        name=lang.gettext("Watermark"), value=watermark_text(lang, settings.force_watermark)
    )
    embed.add_field(name=lang.gettext("Language"), value=language_text(lang, settings.language))
    embed.add_field(
        name=lang.gettext("Hidden models"), value=hidden_models_text(lang, settings.hidden_models)
    )
    embed.add_field(
        name=lang.gettext("Private mode"), value=private_mode_text(lang, settings.private_mode)
    )
    embed.add_field(
        name=lang.gettext("Quota"), value=per_period(lang, quota.default_seconds, quota.period)
    )
    embed.add_field(
        name=lang.gettext("Server budget"),
        value=lang.gettext("None")
        if quota.budget_seconds is None
        else per_period(lang, quota.budget_seconds, quota.period),
    )
    if quota.role_defaults:
        roles = "\n".join(
            f"<@&{role}>: " + lang.gettext("{s} s", s=s) for role, s in quota.role_defaults.items()
        )
        embed.add_field(name=lang.gettext("Role allowances"), value=fit(roles), inline=False)
    return embed


# -- the replies to /videoadmin quota ---------------------------------------------------------


def quota_with_history(
    lang: Language, allowance: Allowance, who: str, entries: list[LedgerEntry]
) -> discord.Embed:
    """A member's quota as they see it, and under it their latest quota changes."""
    embed = quota_embed(lang, allowance, who=who)
    embed.add_field(
        name=lang.gettext("Latest changes"), value=ledger_text(lang, entries), inline=False
    )
    return embed


def own_allowance_set(
    lang: Language, who: str, seconds: int | None, before: Allowance, after: Allowance
) -> str:
    """A member's own allowance set (or, with None, removed)."""
    period = period_noun(lang, after.period)
    if seconds is None and after.blocked:
        line = lang.gettext("{member} has no allowance of their own now", member=who)
    elif seconds is None:
        line = lang.gettext(
            "{member} has no allowance of their own now: they get {allowance} per {period}",
            member=who,
            allowance=base_text(lang, after),
            period=period,
        )
    else:
        line = lang.gettext(
            "{member} now has {s} s per {period}", member=who, s=seconds, period=period
        )
    if before.blocked:
        line = lang.gettext("{line}.", line=line)
    else:
        line = lang.gettext(
            "{line} (was {allowance}).", line=line, allowance=base_text(lang, before)
        )
    if after.blocked:
        line += " " + lang.gettext(
            "They are still blocked: `/videoadmin quota unblock` lets them make videos."
        )
    return line


def granted(lang: Language, who: str, seconds: int, after: Allowance) -> str:
    return lang.gettext(
        "Granted {member} {s} s for this period: they have {left} s left until {time}.",
        member=who,
        s=seconds,
        left=after.remaining_seconds,
        time=timestamp(after.renews_at, "f"),
    )


def forgiven(lang: Language, who: str, seconds: int, after: Allowance) -> str:
    """What a reset forgave (`seconds`, maybe none) and what the member has left."""
    left = after.remaining_seconds
    if seconds:
        return lang.gettext(
            "Forgave the {s} s {member} used this period: they have {left} s left.",
            s=seconds,
            member=who,
            left=left,
        )
    return lang.gettext(
        "{member} had used nothing this period to forgive: they have {left} s left.",
        member=who,
        left=left,
    )


def blocked(lang: Language, who: str, reason: str | None) -> str:
    if reason:
        return lang.gettext(
            "{member} can no longer make videos here: {reason}.", member=who, reason=reason
        )
    return lang.gettext("{member} can no longer make videos here.", member=who)


def unblocked(lang: Language, who: str, before: Allowance, after: Allowance) -> str:
    """A member let make videos again, or (not blocked before) nothing changed."""
    if not before.blocked:
        return lang.gettext("{member} is not blocked; nothing changed.", member=who)
    return lang.gettext(
        "{member} can make videos again: {left} s left this period.",
        member=who,
        left=after.remaining_seconds,
    )


def role_allowance_set(
    lang: Language, role: discord.Role, seconds: int | None, before: GuildQuotaSettings
) -> str:
    """A role's allowance set (or, with None, removed; if it had none, nothing changed)."""
    old = before.role_defaults.get(role.id)
    if seconds is None and old is None:
        return lang.gettext(
            "{role} gives no allowance of its own; nothing changed.", role=role.mention
        )
    was = lang.gettext("nothing of its own") if old is None else lang.gettext("{s} s", s=old)
    if seconds is None:
        return lang.gettext(
            "{role} no longer gives an allowance of its own (was {was}).",
            role=role.mention,
            was=was,
        )
    line = lang.gettext(
        "{role} now gives {s} s per {period} (was {was}).",
        role=role.mention,
        s=seconds,
        period=period_noun(lang, before.period),
        was=was,
    )
    if seconds <= before.default_seconds:
        line += " " + lang.gettext(
            "It only matters above the server default ({s} s).", s=before.default_seconds
        )
    return line


def default_allowance_set(
    lang: Language, before: GuildQuotaSettings, after: GuildQuotaSettings
) -> str:
    """The server default changed, and how often allowances renew if that changed too."""
    line = lang.gettext(
        "Every member now gets {new} by default (was {old}).",
        new=per_period(lang, after.default_seconds, after.period),
        old=per_period(lang, before.default_seconds, before.period),
    )
    if after.period is not before.period:
        line += " " + lang.gettext(RENEWALS[after.period])
    return line


def budget_set(lang: Language, seconds: int | None, before: GuildQuotaSettings) -> str:
    was = (
        lang.gettext("no budget")
        if before.budget_seconds is None
        else lang.gettext("{s} s", s=before.budget_seconds)
    )
    if seconds is None:
        return lang.gettext("The server has no video budget now (was {was}).", was=was)
    return lang.gettext(
        "The whole server may now make {s} s of video per {period} (was {was}).",
        s=seconds,
        period=period_noun(lang, before.period),
        was=was,
    )


# -- the replies to /videoadmin settings ------------------------------------------------------


def channel_added(lang: Language, channel: str, before: GuildSettings, after: GuildSettings) -> str:
    old = before.allowed_channels
    if after == before:
        return lang.gettext("{channel} is already allowed; nothing changed.", channel=channel)
    if old:
        return lang.gettext(
            "Videos can now also be made in {channel} ({n} channels).",
            channel=channel,
            n=len(old) + 1,
        )
    return lang.gettext(
        "Videos can now be made only in {channel} (was every channel).", channel=channel
    )


def channel_removed(
    lang: Language, channel: str, before: GuildSettings, after: GuildSettings
) -> str:
    if after == before:
        return lang.gettext("{channel} is not on the list; nothing changed.", channel=channel)
    left = after.allowed_channels
    if left:
        return lang.ngettext(
            "Videos can no longer be made in {channel} ({n} channel left).",
            "Videos can no longer be made in {channel} ({n} channels left).",
            len(left),
            channel=channel,
        )
    return lang.gettext(
        "Removed {channel}, the last listed channel: videos can be made in every channel again.",
        channel=channel,
    )


def channels_cleared(lang: Language, before: GuildSettings) -> str:
    if not before.allowed_channels:
        return lang.gettext("Videos can already be made in every channel; nothing changed.")
    return lang.gettext(
        "Videos can be made in every channel again (was only {channels}).",
        channels=channels_text(lang, before.allowed_channels),
    )


def banned_words_changed(
    lang: Language,
    adding: bool,
    given: tuple[str, ...],
    before: GuildSettings,
    after: GuildSettings,
) -> str:
    """The words of `given` that were added (or removed), and how many are banned now."""
    old, new = before.banned_words, after.banned_words
    changed = [w for w in given if (w in old) != (w in new)]
    if not changed:
        return lang.gettext("The list already says that; nothing changed.")
    message = (
        _n(
            "Banned {words} ({n} banned word in all, was {old}).",
            "Banned {words} ({n} banned words in all, was {old}).",
            len(new),
            words=spoiler(changed),
            old=len(old),
        )
        if adding
        else _n(
            "Unbanned {words} ({n} banned word in all, was {old}).",
            "Unbanned {words} ({n} banned words in all, was {old}).",
            len(new),
            words=spoiler(changed),
            old=len(old),
        )
    )
    return lang.render(message)


def defaults_set(
    lang: Language, model: str | None, resolution: str | None, before: GuildSettings
) -> str:
    line = lang.gettext(
        "New videos now default to {model} at {resolution} (was {old_model} at {old_resolution}).",
        model=model_text(lang, model),
        resolution=resolution_text(lang, resolution),
        old_model=model_text(lang, before.default_model),
        old_resolution=resolution_text(lang, before.default_resolution),
    )
    spec = MODELS[model or DEFAULT_MODEL]
    if resolution is not None and resolution not in spec.resolutions:
        line += " " + lang.gettext(
            "{model} cannot make {resolution}, so it keeps its own default.",
            model=spec.name,
            resolution=resolution,
        )
    return line


def models_shown(
    lang: Language, model: str, hiding: bool, before: GuildSettings, after: GuildSettings
) -> str:
    """The reply to /videoadmin settings models: `model` hidden (or shown again) on the server."""
    if before.hidden_models == after.hidden_models:
        if hiding:
            return lang.gettext("{model} is already hidden; nothing changed.", model=model)
        return lang.gettext("{model} is not hidden; nothing changed.", model=model)
    hidden = hidden_models_text(lang, after.hidden_models)
    if hiding:
        # Translators: {hidden} lists the models hidden on the server now ("wan2.6-i2v-flash,
        # wan2.6-i2v").
        return lang.gettext(
            "{model} is hidden: members of this server can no longer use it (hidden now:"
            " {hidden}).",
            model=model,
            hidden=hidden,
        )
    return lang.gettext(
        "{model} is offered again on this server (hidden now: {hidden}).",
        model=model,
        hidden=hidden,
    )


def watermark_set(lang: Language, forced: bool, before: GuildSettings) -> str:
    return lang.gettext(
        "Watermark: {now} (was {was}).",
        now=watermark_text(lang, forced),
        was=watermark_text(lang, before.force_watermark),
    )


def longest_duration_set(lang: Language, seconds: int | None, before: GuildSettings) -> str:
    return lang.gettext(
        "Longest video: {now} (was {was}).",
        now=duration_limit_text(lang, seconds),
        was=duration_limit_text(lang, before.max_duration),
    )


def moderator_role_set(lang: Language, role: str | None, before: GuildSettings) -> str:
    """The moderator role chosen (`role`, a mention), or with None: Manage Server only."""
    old = before.moderator_role_id
    was = lang.gettext("Manage Server only") if old is None else f"<@&{old}>"
    if role is None:
        return lang.gettext(
            "Only members with Manage Server can use /videoadmin now (was {was}).", was=was
        )
    return lang.gettext(
        "Members with {role} can now use /videoadmin (was {was}).", role=role, was=was
    )


def language_set(lang: Language, code: str | None, before: GuildSettings) -> str:
    return lang.gettext(
        "Status messages and posted videos are now in {now} (was {was}). Replies to "
        "each member stay in their own Discord language.",
        now=language_text(lang, code),
        was=language_text(lang, before.language),
    )


# -- why a /videoadmin command was refused (raised as InvalidInput; cogs/render/errors.py tells it)

NOT_MODERATOR = _("Only moderators (Manage Server, or the moderator role) can use /videoadmin.")
ONLY_IN_A_SERVER = _("/videoadmin works only in a server.")
PERIODS_OFFERED = _("The period is a day, a week or a month.")
CURRENT_OR_PREVIOUS = _("Choose the current or the previous period.")
NO_WORDS_GIVEN = _("Give one or more words, separated by commas.")
ADD_OR_REMOVE = _("Choose to add or to remove words.")
HIDE_OR_SHOW = _("Choose to hide or to show the model.")
ONLY_MANAGERS_PICK_MODERATORS = _("Only members with Manage Server can change the moderator role.")
NOT_EVERYONE = _("Choose a role other than @everyone: every member would moderate.")


def seconds_out_of_range(low: int, high: int, seconds: int) -> Text:
    return _("Seconds must be {low}–{high}, not {s}.", low=low, high=high, s=seconds)


def no_such_model(model: str, models: str) -> Text:
    return _("There is no model {model}; choose one of {models}.", model=model, models=models)


def resolution_not_made(model: str | None, resolution: str, choices: str) -> Text:
    """A resolution `model` cannot make (with None: that no model makes)."""
    if model:
        return _(
            "{model} cannot make {resolution}; choose one of {choices}.",
            model=model,
            resolution=resolution,
            choices=choices,
        )
    return _(
        "No model makes {resolution}; choose one of {choices}.",
        resolution=resolution,
        choices=choices,
    )


def too_many_channels(most: int) -> Text:
    return _("At most {n} channels can be listed; remove one first.", n=most)


def banned_word_too_long(longest: int, word: str) -> Text:
    return _(
        "A banned word or phrase can be at most {n} characters (“{word}…” is longer).",
        n=longest,
        word=word,
    )


def too_many_banned_words(most: int) -> Text:
    return _("At most {n} banned words; remove some first.", n=most)


def longest_out_of_range(low: int, high: int, seconds: int) -> Text:
    return _("The longest video must be {low}–{high} s, not {s}.", low=low, high=high, s=seconds)


def no_such_language(code: str) -> Text:
    return _(
        "There is no language {code}; choose one of: {names}.",
        code=code,
        names=", ".join(LANGUAGE_NAMES.values()),
    )


def private_mode_text(lang: Language, allowed: bool) -> str:
    """Whether members may have their videos by DM (/video settings private)."""
    if allowed:
        return lang.gettext("allowed: members may have their videos by DM")
    return lang.gettext("off: videos are posted in the channel")


def private_mode_set(lang: Language, allowed: bool, before: GuildSettings) -> str:
    text = lang.gettext(
        "Private mode: {now} (was {was}).",
        now=private_mode_text(lang, allowed),
        was=private_mode_text(lang, before.private_mode),
    )
    if before.private_mode and not allowed:
        text += " " + lang.gettext(
            "Videos already queued still go where they were asked to go; new ones are posted"
            " in the channel."
        )
    return text
