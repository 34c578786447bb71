"""A member's own defaults in one server, as they set them with /video settings, and their rules
(storage/member_settings.py keeps them in SQL).

Per member per server: a member of two servers keeps a set in each (the servers offer different
models and lengths, and one may allow private mode where the other does not).

What a member types wins over their default; their default wins over the server's; the server's
over the model's. A default is checked against the catalogue and the server when it is set, but
the server may change its rules later (hide a model, shorten its longest video, turn private mode
off) and the operator may retire a model: a default that no longer fits is passed over for the
next rule down, and the reply says so (`Passed`). It never refuses a video on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain.catalog import MODELS, RETIRED, MediaType, ModelSpec, offered
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.i18n import Text, _

# What a member can clear, one at a time or all at once.
FIELDS = ("model", "resolution", "duration", "private")


@dataclass(frozen=True)
class MemberSettings:
    guild_id: int
    user_id: int
    model: str | None = None  # None: the server's default, else the bot's
    resolution: str | None = None  # None: the server's default, else the model's
    duration: int | None = None  # seconds; None: the model's default within the server's longest
    private: bool = False  # results by DM instead of the channel, where the server allows it

    def cleared(self, name: str) -> MemberSettings:
        """These settings with one of `FIELDS` (or "all" of them) back to its default."""
        if name == "all":
            return MemberSettings(self.guild_id, self.user_id)
        if name not in FIELDS:
            raise ValueError(f"no such member setting: {name}")
        cleared: dict[str, object] = {name: False if name == "private" else None}
        return replace(self, **cleared)  # type: ignore[arg-type]

    def by_dm(self, guild: GuildSettings) -> bool:
        """Whether a new video of theirs goes to their DM: they chose it and the server allows it
        now (a job keeps where it was asked to go, whatever the server decides later)."""
        return self.private and guild.private_mode

    def usable_model(
        self,
        given: frozenset[MediaType],
        guild: GuildSettings,
        *,
        template: bool,
        retired: frozenset[str] = RETIRED,
    ) -> str | None:
        """Their default model, if it is still offered here (not hidden by the server, not
        retired) and takes what they gave; else None (the next rule down chooses)."""
        spec = MODELS.get(self.model or "")
        if spec is None or spec.name in guild.hidden_models | retired:
            return None
        return spec.name if spec.accepts(given, template=template) else None

    def usable_resolution(self, spec: ModelSpec) -> str | None:
        """Their default resolution, if the video's model makes it."""
        return self.resolution if self.resolution in spec.resolutions else None

    def usable_duration(
        self, spec: ModelSpec, given: frozenset[MediaType], guild: GuildSettings
    ) -> int | None:
        """Their default length, if the video's model can be asked for it with these inputs
        and it is within the server's longest."""
        seconds = self.duration
        if seconds is None or not spec.duration_settable:
            return None
        if guild.max_duration and seconds > guild.max_duration:
            return None
        return seconds if seconds in spec.durations_for(given) else None


def check_new(
    settings: MemberSettings,
    guild: GuildSettings,
    *,
    model: str | None = None,
    resolution: str | None = None,
    duration: int | None = None,
    private: bool | None = None,
    retired: frozenset[str] = RETIRED,
) -> MemberSettings:
    """`settings` with the values a member just gave, each checked against what this server
    offers now: a model it offers, a resolution and a length some offered model (or the model
    given with it) makes, within the server's longest, private mode only where it is allowed.
    Raise InvalidInput, naming the option, for anything else (nothing is stored)."""
    available = [s for s in offered(retired) if s.name not in guild.hidden_models]
    names = [s.name for s in available]
    if model is not None and model not in names:
        raise InvalidInput(
            # Translators: {model} is a model's name; {models} lists the ones offered here.
            _(
                "{model} is not offered on this server; choose one of {models}.",
                model=model,
                models=", ".join(names),
            ),
            field="model",
        )
    makers = [MODELS[model]] if model is not None else available
    if resolution is not None:
        sizes = sorted({r for s in makers for r in s.resolutions}, key=lambda r: int(r[:-1]))
        if resolution not in sizes:
            raise InvalidInput(
                # Translators: {resolution} is like "720P"; {resolutions} lists the ones possible.
                _(
                    "No model offered here makes {resolution} with these settings; choose one"
                    " of {resolutions}.",
                    resolution=resolution,
                    resolutions=", ".join(sizes),
                ),
                field="resolution",
            )
    if duration is not None:
        if guild.max_duration and duration > guild.max_duration:
            raise InvalidInput(
                _("This server allows videos of at most {seconds} s.", seconds=guild.max_duration),
                field="duration",
            )
        lengths = sorted({d for s in makers if s.duration_settable for d in s.durations})
        if duration not in lengths:
            raise InvalidInput(
                # Translators: {seconds} is a number of seconds; {lengths} lists the possible ones.
                _(
                    "No model offered here makes videos of {seconds} s with these settings;"
                    " possible lengths: {lengths} s.",
                    seconds=duration,
                    lengths=", ".join(str(d) for d in lengths) or "—",
                ),
                field="duration",
            )
    if private and not guild.private_mode:
        raise InvalidInput(PRIVATE_MODE_NOT_ALLOWED, field="private")
    changes: dict[str, object] = {
        name: value
        for name, value in (
            ("model", model),
            ("resolution", resolution),
            ("duration", duration),
            ("private", private),
        )
        if value is not None
    }
    return replace(settings, **changes)  # type: ignore[arg-type]


PRIVATE_MODE_NOT_ALLOWED = _(
    "This server does not allow private mode: its moderators can turn it on with"
    " /videoadmin settings private_mode."
)


# What the reply says when a default of the member's was passed over for the next rule down.


def model_passed(model: str, used: str) -> Text:
    # Translators: {model} is the member's default model; {used} the model this video uses.
    return _(
        "Your default model {model} cannot make this video here (not offered, or not for these"
        " inputs), so it uses {used}.",
        model=model,
        used=used,
    )


def resolution_passed(resolution: str, model: str, used: str) -> Text:
    # Translators: {resolution} is the member's default ("1080P"); {used} the one this video gets.
    return _(
        "Your default resolution {resolution} is not made by {model}, so this video is {used}.",
        resolution=resolution,
        model=model,
        used=used,
    )


def duration_passed(seconds: int, model: str, used: int) -> Text:
    # Translators: {seconds} is the member's default length; {used} the length of this video.
    return _(
        "Your default length of {seconds} s is not possible with {model} on this server now,"
        " so this video is {used} s.",
        seconds=seconds,
        model=model,
        used=used,
    )


PRIVATE_MODE_OFF = _(
    "This server has turned private mode off, so this video is posted in the channel."
)
