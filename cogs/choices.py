"""Slash-command option types, choices and their help, all read from the catalogue.

Each /video subcommand that makes a video names its inputs (the files it always takes, the ones a
member may add, an effect template); the catalogue's `Menu` says which models a request with
those inputs can be valid for, and what they make. Only that is offered, and where a choice
works with some of the offered models only, its help names them.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import discord
from discord import app_commands

from bot.domain.catalog import (
    DEFAULT_MODEL,
    LONGEST_SECONDS,
    MODELS,
    RESOLUTIONS,
    RETIRED,
    SHORTEST_SECONDS,
    Inputs,
    MediaType,
    Menu,
    durations_text,
)
from bot.i18n import Text, _
from cogs.translator import translatable_choice

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP

# What each subcommand asks for; keep these as cogs/video/commands.py's attachment options are.
ANIMATE = Menu.of(Inputs(frozenset({FIRST}), frozenset({AUDIO})))
INTERPOLATE = Menu.of(Inputs(frozenset({FIRST, LAST}), frozenset({AUDIO})))
CONTINUE = Menu.of(Inputs(frozenset({CLIP}), frozenset({LAST})))
EFFECT = Menu.of(Inputs(frozenset({FIRST}), template=True))
TEXT = Menu.of(Inputs(frozenset(), frozenset({AUDIO})))
REF_IMAGE, REF_VIDEO = MediaType.REFERENCE_IMAGE, MediaType.REFERENCE_VIDEO
# At least one reference (a picture, or a clip: both are offered the same models), a first frame
# if wanted.
REFERENCE = Menu.of(Inputs(frozenset({REF_IMAGE}), frozenset({REF_VIDEO, FIRST})))
EDIT = Menu.of(Inputs(frozenset({MediaType.VIDEO}), frozenset({REF_IMAGE})))

# Settings that apply to whatever a member asks later: anything some model can do.
Duration = app_commands.Range[int, SHORTEST_SECONDS, LONGEST_SECONDS]
MODEL_CHOICES = [
    app_commands.Choice(name=name, value=name) for name in MODELS if name not in RETIRED
]
# Hiding a model in a server names any model, a retired one too (so it can be shown again).
ALL_MODEL_CHOICES = [app_commands.Choice(name=name, value=name) for name in MODELS]
# The commands whose model option keeps every model when the operator retires some.
KEEPS_EVERY_MODEL = frozenset({"videoadmin settings models"})
# Each video-making command's inputs, and whether its duration counts a clip: its options' help
# and choices are made again from them, without the operator's retired models (`withdraw`).
MENU_OF = {
    "video animate": (ANIMATE.inputs, False),
    "video interpolate": (INTERPOLATE.inputs, False),
    "video continue": (CONTINUE.inputs, True),
    "video text": (TEXT.inputs, False),
    # /video reference and /video edit offer one model each: nothing to take out of their
    # choices, and their duration's help is their own.
}
RESOLUTION_CHOICES = [app_commands.Choice(name=r, value=r) for r in RESOLUTIONS]

AnimateDuration = app_commands.Range[int, ANIMATE.shortest, ANIMATE.longest]
InterpolateDuration = app_commands.Range[int, INTERPOLATE.shortest, INTERPOLATE.longest]
ContinueDuration = app_commands.Range[int, CONTINUE.shortest, CONTINUE.longest]
TextDuration = app_commands.Range[int, TEXT.shortest, TEXT.longest]
ReferenceDuration = app_commands.Range[int, REFERENCE.shortest, REFERENCE.longest]
EditDuration = app_commands.Range[int, EDIT.shortest, EDIT.longest]


def withdraw(tree: app_commands.CommandTree, retired: frozenset[str]) -> None:
    """Take the `retired` models out of every command's model choices, and the message menus
    they leave with nothing to offer. The choices above are built at import from the catalogue;
    the operator's WANBOT_RETIRED_MODELS reaches them here, when the bot loads its commands
    (`run`, and `sync`, which sends them to Discord). Each command is the cog's own copy, so its
    parameter is replaced, not changed in place."""
    for command in tree.walk_commands():
        if not isinstance(command, app_commands.Command):
            continue
        if command.qualified_name in KEEPS_EVERY_MODEL:
            continue
        # discord.py keeps a command's options in `_params` (no public setter); a copy of the
        # option replaces the one shared with the class's command.
        params = command._params
        if command.qualified_name in MENU_OF and retired - RETIRED:
            inputs, continuation = MENU_OF[command.qualified_name]
            try:
                menu = Menu.of(inputs, retired)
            except ValueError:  # every model it had is retired: admission refuses, naming it
                continue
            for name, text in option_help(menu, continuation=continuation).items():
                if name in params:
                    params[name] = dataclasses.replace(params[name], description=text)
            for name, offered in option_choices(menu).items():
                if name in params:
                    choices = cast("list[app_commands.Choice[str | int | float]]", offered)
                    params[name] = dataclasses.replace(params[name], choices=choices)
        param = params.get("model")
        if param is None or not param.choices:
            continue
        kept = [c for c in param.choices if c.value not in retired]
        if kept and len(kept) < len(param.choices):
            command._params["model"] = dataclasses.replace(param, choices=kept)
    # A message menu whose input no model takes any more goes (cogs/video/menus.py).
    for message_menu in tree.get_commands(type=discord.AppCommandType.message):
        still_offered = message_menu.extras.get("offered")
        if callable(still_offered) and not still_offered(retired):
            tree.remove_command(message_menu.name, type=message_menu.type)


def translatable(text: Text) -> app_commands.locale_str:
    """A command's or option's help that is a catalogue message, translated as a whole."""
    return app_commands.locale_str(str(text), text=text)


def model_choices(menu: Menu) -> list[app_commands.Choice[str]]:
    """The models `menu`'s inputs are enough for, described for members."""
    return [
        translatable_choice(
            _("{model} — {summary}", model=offer.name, summary=offer.spec.summary), offer.name
        )
        for offer in menu.offers
    ]


def resolution_choices(menu: Menu) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=r, value=r) for r in menu.resolutions]


def ratio_choices(menu: Menu) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=r, value=r) for r in menu.ratios]


def shot_type_choices(menu: Menu) -> list[app_commands.Choice[str]]:
    names = {
        # Translators: a choice of /video animate's shot_type option: the video is one
        # continuous shot (the default).
        "single": _("One continuous shot"),
        # Translators: a choice of /video animate's shot_type option: the video cuts between
        # several shots.
        "multi": _("Several shots (multi-shot)"),
    }
    return [translatable_choice(names[s], s) for s in menu.shot_types]


def template_choices(menu: Menu) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=t, value=t) for t in menu.templates]


def option_help(menu: Menu, *, continuation: bool = False) -> dict[str, app_commands.locale_str]:
    """The help of a subcommand's options that the catalogue decides (a model option only where
    there is a model to choose; a continuation's duration counts the clip)."""
    found = {
        "resolution": resolution_help(menu),
        "duration": continuation_help(menu) if continuation else duration_help(menu),
    }
    if menu.ratios:
        found["ratio"] = ratio_help(menu)
    if menu.shot_types:
        found["shot_type"] = shot_type_help(menu)
    return found | ({"model": model_help()} if len(menu.models) > 1 else {})


def option_choices(menu: Menu) -> dict[str, list[app_commands.Choice[str]]]:
    """The choices of those options (discord.py refuses a choice for an option a command lacks:
    a second model for a subcommand without a model option fails at start-up, not for members)."""
    found = {"resolution": resolution_choices(menu)}
    if menu.ratios:
        found["ratio"] = ratio_choices(menu)
    if menu.shot_types:
        found["shot_type"] = shot_type_choices(menu)
    return found | ({"model": model_choices(menu)} if len(menu.models) > 1 else {})


def continue_help() -> app_commands.locale_str:
    """/video continue's own help."""
    return translatable(
        # Translators: the help of /video continue; {models} names the model that does it.
        _(
            "Continue a video clip, optionally to a given last frame ({models}).",
            models=", ".join(CONTINUE.models),
        )
    )


def effect_help() -> app_commands.locale_str:
    """/video effect's own help."""
    return translatable(
        # Translators: the help of /video effect; {models} names the model that does it,
        # {lengths} the length of its videos ("5 s").
        _(
            "Apply a ready-made effect to a picture ({models}, {lengths}).",
            models=", ".join(EFFECT.models),
            lengths=durations_text(EFFECT.durations),
        )
    )


def text_help() -> app_commands.locale_str:
    """/video text's own help."""
    return translatable(
        # Translators: the help of /video text; {models} names the model that does it,
        # {lengths} the lengths it makes ("2–15 s").
        _(
            "Make a video from words alone, no picture needed ({models}, {lengths}).",
            models=", ".join(TEXT.models),
            lengths=durations_text(TEXT.durations),
        )
    )


def ratio_help(menu: Menu) -> app_commands.locale_str:
    """The ratio's help: the shapes, and the one made when none is chosen."""
    return translatable(
        # Translators: the help of /video text's ratio option: the video's shape as width:height;
        # {ratio} is the default ("16:9").
        _(
            "The video's shape, width:height (default: {ratio})",
            ratio=menu.default.default_ratio or menu.ratios[0],
        )
    )


def shot_type_help(menu: Menu) -> app_commands.locale_str:
    """The shot type's help: the models that take one, and what multi-shot needs."""
    takers = tuple(o.name for o in menu.offers if o.spec.shot_types)
    return translatable(
        # Translators: the help of /video animate's shot_type option; {models} names the models
        # that take it ("wan2.6-i2v-flash, wan2.6-i2v"); prompt_extend is an option's name: write
        # it as that option is named in your language. Discord shows at most 100 characters.
        _(
            "One shot or several ({models}; multi needs prompt_extend)",
            models=", ".join(takers),
        )
    )


def model_help() -> app_commands.locale_str:
    # Translators: the help of /video's model option; {model} is a model's name ("wan2.7-i2v").
    return translatable(
        _("Which model makes it (default: the server's, or {model})", model=DEFAULT_MODEL)
    )


def resolution_help(menu: Menu) -> app_commands.locale_str:
    """ "Video size: 480P (wan2.2-kf2v-flash); 720P; …": a size some offered models do not make
    is followed by the ones that do."""
    sizes: list[Text | str] = []
    for resolution in menu.resolutions:
        makers = menu.makers(resolution)
        sizes.append(resolution if makers == menu.models else _only_with(resolution, makers))
    # Translators: the help of /video's resolution option: the video sizes to choose from,
    # separated by semicolons; a size followed by model names in brackets is made by those
    # models only ("480P (wan2.2-kf2v-flash); 720P").
    return translatable(_("Video size: {sizes}", sizes=_listed(sizes)))


def duration_help(menu: Menu) -> app_commands.locale_str:
    """ "Length: 2–15 s (wan2.7-i2v); 5 s (…)": the lengths each group of models makes."""
    # Translators: the help of /video's duration option: the lengths to choose from ("2–15 s"),
    # or, when models differ, each followed by the models that make it in brackets ("2–15 s
    # (wan2.7-i2v); 5 s (wan2.2-kf2v-flash)").
    return translatable(_("Length: {lengths}", lengths=_lengths(menu)))


def continuation_help(menu: Menu) -> app_commands.locale_str:
    """The duration's help where a clip is continued: the length counts the clip."""
    return translatable(
        # Translators: the help of /video continue's duration option; {lengths} is the lengths
        # to choose from ("3–15 s"); {seconds} is how much is added when none is chosen.
        _(
            "Total length, the clip included: {lengths} (default: the clip + {seconds} s)",
            lengths=_lengths(menu),
            seconds=menu.default.default_duration,
        )
    )


def optional_help(menu: Menu, media_type: MediaType, text: Text) -> app_commands.locale_str:
    """An optional file's help, naming the models that take it if not every offered one does."""
    takers = menu.takers(media_type)
    if takers == menu.models:
        return translatable(text)
    # Translators: an option's help followed by the models it works with: "A voice or song
    # (wav/mp3) to drive it (wan2.7-i2v only)".
    return translatable(_("{help} ({models} only)", help=text, models=", ".join(takers)))


def _lengths(menu: Menu) -> Text | str:
    groups: dict[tuple[int, ...], list[str]] = {}
    for offer in menu.offers:
        groups.setdefault(offer.durations, []).append(offer.name)
    if len(groups) == 1:
        return durations_text(menu.durations)
    return _listed([_only_with(durations_text(d), names) for d, names in groups.items()])


def _only_with(values: Text | str, models: list[str] | tuple[str, ...]) -> Text:
    # Translators: something some models only can do, followed by their names: "480P
    # (wan2.2-kf2v-flash)", "5, 10 or 15 s (wan2.6-i2v)".
    return _("{values} ({models})", values=values, models=", ".join(models))


def _listed(items: list[Text | str]) -> Text | str:
    listed = items[0]
    for item in items[1:]:
        # Translators: choices one after another: "480P (wan2.2-kf2v-flash); 720P" ({items} may
        # itself be several joined this way).
        listed = _("{items}; {item}", items=listed, item=item)
    return listed


def reference_help() -> app_commands.locale_str:
    """/video reference's own help."""
    return translatable(
        # Translators: the help of /video reference; {models} names the model that does it.
        # Discord shows at most 100 characters.
        _(
            "Put people, pets or things from your pictures and clips in a new scene ({models}).",
            models=", ".join(REFERENCE.models),
        )
    )


def reference_duration_help() -> app_commands.locale_str:
    """/video reference's duration: shorter when a clip is among the references."""
    spec = REFERENCE.default
    with_clip = spec.durations_for(frozenset({REF_IMAGE, REF_VIDEO}))
    return translatable(
        # Translators: the help of /video reference's duration option; {lengths} and {clip}
        # are lengths ("2–15 s", "2–10 s"); a clip is a video given as a reference.
        _(
            "Length: {lengths}; {clip} when a reference is a clip",
            lengths=durations_text(spec.durations),
            clip=durations_text(with_clip),
        )
    )


def edit_help() -> app_commands.locale_str:
    """/video edit's own help."""
    return translatable(
        # Translators: the help of /video edit; {models} names the model that does it.
        # Discord shows at most 100 characters.
        _(
            "Restyle or change your clip by instruction, optionally guided by pictures ({models}).",
            models=", ".join(EDIT.models),
        )
    )


def edit_duration_help() -> app_commands.locale_str:
    """/video edit's duration: a cut from the clip's start; none keeps its length."""
    return translatable(
        # Translators: the help of /video edit's duration option; {lengths} is the lengths to
        # choose from ("2–10 s").
        _(
            "Length: {lengths}, cut from the clip's start (default: the clip's length)",
            lengths=durations_text(EDIT.durations),
        )
    )
