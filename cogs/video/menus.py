"""Message menus: right-click (long-press on mobile) a message → Apps → "Animate this image",
"Continue this clip", on anyone's message in the channel, the bot's own posted videos included.

Each entry of `MESSAGE_ACTIONS` is one menu: the role the message's file plays and the model that
makes it (None: the server's default among those that take it). A menu is registered only when a
model the catalogue offers takes its input (and its model is one of them), so every menu offered
works; an operator's retired models take it away again when the commands load (`withdraw` in
cogs/choices.py reads `offered` from its extras). Adding a menu is one entry.

The menu takes the first file of the right kind (bot/intake/pick.py) and admits the ask without a
prompt, before anything is typed: the server's rules, the catalogue, the file as Discord describes
it, the member's quota and waiting line (a refusal costs nothing). Then a modal asks for the
prompt and the negative prompt; its submit goes the way of every new video (`Flow.make`: admitted
again with the prompt, defer, stage, queue, the private reply). The modal lives in memory: one
sent after `MODAL_SECONDS`, or after a restart, finds nobody waiting for it; its id says when and
in which run of the bot it was opened, so it is answered that it expired (nothing made or charged)
rather than left to fail.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.domain.catalog import RETIRED, Inputs, MediaType, Menu, ModelSpec
from bot.i18n import Language, Text, _
from bot.intake.ask import Ask
from bot.intake.pick import pick
from cogs.choices import CONTINUE, EDIT, translatable
from cogs.errors import report, send_private
from cogs.languages import member_language
from cogs.render import member
from cogs.served import ServedBot
from cogs.video.flow import Flow
from cogs.video.options import Place, attachment

# How long an open modal waits for its submit (Discord keeps it open as long as the member likes).
MODAL_SECONDS = 30 * 60.0
# Discord's limits on a modal: its title, a text input's label and length.
TITLE_MAX, LABEL_MAX, TEXT_MAX = 45, 45, 4000
# The prompt is typed next, in the modal: admitted before it with a stand-in, so a model that
# needs a prompt is not refused for lacking one yet (the submit is admitted again with the real one).
PROMPT_TO_COME = "…"
# A prompt modal's custom_id: the prefix, this run of the bot, when it was opened, a nonce.
MODAL_PREFIX = "wanbot:menu:"
_RUN = secrets.token_hex(4)
# Past its timeout, a modal is answered as expired only after this margin (so never twice).
EXPIRY_MARGIN_SECONDS = 5.0


def modal_id(opened_at: float, run: str = _RUN) -> str:
    """The custom_id of a prompt modal opened at `opened_at` (Unix seconds) in this run."""
    return f"{MODAL_PREFIX}{run}:{int(opened_at)}:{secrets.token_hex(4)}"


def forgotten(custom_id: str, now: float, run: str = _RUN) -> bool:
    """Whether a submitted modal is one of ours that nobody waits for any more: opened in an
    earlier run of the bot, or longer ago than its timeout."""
    if not custom_id.startswith(MODAL_PREFIX):
        return False
    opened_in, _, rest = custom_id.removeprefix(MODAL_PREFIX).partition(":")
    opened_at, _, _nonce = rest.partition(":")
    if opened_in != run:
        return True
    return opened_at.isdigit() and now - int(opened_at) > MODAL_SECONDS + EXPIRY_MARGIN_SECONDS


@dataclass(frozen=True)
class MessageAction:
    """One message menu: its name (at most 32 characters in every language, Discord's limit),
    the role the message's file plays, the model (None: the server's default that takes it),
    and what the modal's prompt field asks."""

    name: Text
    role: MediaType
    prompt: Text
    model: str | None = None

    def offered(self, retired: frozenset[str] = RETIRED) -> bool:
        """Whether a model that is not `retired` takes this input (and is this action's model)."""
        try:
            menu = Menu.of(Inputs(frozenset({self.role})), retired)
        except ValueError:  # no model takes it alone
            return False
        return self.model is None or self.model in menu.models


MESSAGE_ACTIONS: tuple[MessageAction, ...] = (
    MessageAction(
        # Translators: a message menu's name (right-click a message → Apps); at most 32
        # characters.
        _("Animate this image"),
        MediaType.FIRST_FRAME,
        prompt=_("What should happen in the video"),
    ),
    MessageAction(
        # Translators: a message menu's name (right-click a message → Apps); at most 32
        # characters.
        _("Continue this clip"),
        MediaType.FIRST_CLIP,
        prompt=_("What happens next"),
        model=CONTINUE.default.name,
    ),
    MessageAction(
        # Translators: a message menu's name (right-click a message → Apps); at most 32
        # characters.
        _("Edit this clip"),
        MediaType.VIDEO,
        prompt=_("How to change the clip"),
        model=EDIT.default.name,
    ),
)


class VideoMenus(commands.Cog):
    """The message menus: added to the bot's command tree when the cog loads, removed when it
    unloads (discord.py's context menus cannot live inside a cog)."""

    def __init__(self, bot: ServedBot, actions: tuple[MessageAction, ...] = MESSAGE_ACTIONS):
        self.bot = bot
        self.flow = Flow(bot)
        self.menus = [self._menu(action) for action in actions if action.offered()]

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    def _menu(self, action: MessageAction) -> app_commands.ContextMenu:
        @app_commands.guild_only()
        async def chosen(interaction: discord.Interaction, message: discord.Message) -> None:
            await self.open(interaction, message, action)

        return app_commands.ContextMenu(
            name=translatable(action.name),
            callback=chosen,
            extras={"offered": action.offered},
        )

    async def open(
        self, interaction: discord.Interaction, message: discord.Message, action: MessageAction
    ) -> None:
        """Take the message's file, admit it (nothing downloaded), then ask for the prompt."""
        picked = pick(action.role, [attachment(file) for file in message.attachments])
        ask = Ask(model=action.model, media={action.role: picked.file})
        place = Place.of(interaction)
        admitted = await self.flow.admission.admit(
            replace(ask, prompt=PROMPT_TO_COME),
            place.requester(interaction, locale=None),
            parent_id=place.parent_id,
        )
        taken = member.picked_from(picked.file.filename, picked.among, picked.family)
        lang = member_language(interaction)
        modal = PromptModal(self, action, ask, admitted.request.spec, lang, taken)
        await interaction.response.send_modal(modal)

    async def make(self, interaction: discord.Interaction, ask: Ask) -> None:
        """The modal's submit: the video, the way a command makes one."""
        await self.flow.make(interaction, Place.of(interaction), ask)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A prompt modal sent when nobody waits for it (expired, or the bot restarted): say so."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, object] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if forgotten(custom_id, time.time()):
            lang = member_language(interaction)
            await send_private(interaction, content=member.window_expired(lang))


class PromptModal(ui.Modal):
    """Asks for the prompt (required where the model needs one) and the negative prompt, each as
    long as the model takes (within Discord's 4,000 characters); of a message with several files
    of the kind taken, it first says which one is used."""

    def __init__(
        self,
        menus: VideoMenus,
        action: MessageAction,
        ask: Ask,
        spec: ModelSpec,
        lang: Language,
        taken: Text | None = None,
    ) -> None:
        super().__init__(
            title=lang.render(action.name)[:TITLE_MAX],
            timeout=MODAL_SECONDS,
            custom_id=modal_id(time.time()),
        )
        self.menus, self.ask = menus, ask
        if taken is not None:
            self.add_item(ui.TextDisplay(lang.render(taken)))
        self.prompt: ui.TextInput[PromptModal] = ui.TextInput(
            style=discord.TextStyle.paragraph,
            required=spec.prompt_required,
            max_length=min(spec.prompt_max, TEXT_MAX),
        )
        self.negative_prompt: ui.TextInput[PromptModal] = ui.TextInput(
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=min(spec.negative_prompt_max, TEXT_MAX),
        )
        for label, field in (
            (action.prompt, self.prompt),
            (member.NEGATIVE_PROMPT, self.negative_prompt),
        ):
            self.add_item(ui.Label(text=lang.render(label)[:LABEL_MAX], component=field))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        ask = replace(
            self.ask,
            prompt=self.prompt.value.strip() or None,
            negative_prompt=self.negative_prompt.value.strip() or None,
        )
        await self.menus.make(interaction, ask)

    # discord.py's own Modal.on_error drops BaseView's `item` the same way (a modal has none).
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report(interaction, error)
