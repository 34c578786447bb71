"""Plain-language reasons for jobs that end without a video, by provider code or cause."""

from __future__ import annotations

from bot.dashscope.errors import model_gone
from bot.i18n import Text, _

_OWNER_MODEL = _("The bot's DashScope account may not use this model; tell the bot's owner.")
_BY_CODE = {
    "DataInspectionFailed": _(
        "The provider's content moderation refused the prompt, the images or the result. "
        "Try different wording or pictures. Nothing was charged."
    ),
    "IPInfringementSuspect": _(
        "The provider refused this because it may infringe someone's intellectual property. "
        "Nothing was charged."
    ),
    "InvalidParameter.DataInspection": _(
        "The provider could not read one of the inputs (or its format is not supported). "
        "Nothing was charged."
    ),
    "Arrearage": _("The bot's DashScope account is out of credit; tell the bot's owner."),
    "InvalidApiKey": _("The bot's DashScope key was refused; tell the bot's owner."),
    "AccessDenied": _OWNER_MODEL,
    "Model.AccessDenied": _OWNER_MODEL,
}

MODEL_GONE = _(
    "Sorry: this model is no longer available from the provider, so the video was not made. "
    "Nothing was charged; please ask again with another model (/video models lists them)."
)


def model_retired(model: str) -> Text:
    """Why a job that waited for a model retired meanwhile was not made."""
    # Translators: {model} is a model's name ("wan2.6-i2v-flash"); it was retired while the
    # video waited in line.
    return _(
        "Sorry: {model} was retired while this video waited, so it was not made. Nothing was "
        "charged; please ask again with another model (/video models lists them).",
        model=model,
    )


EXPIRED = _(
    "The provider no longer knows this task (tasks and their videos expire after 24 hours). "
    "Nothing was charged."
)
CANCELED = _("Canceled. Nothing was charged.")
RESULT_EXPIRED = _(
    "The video was made but its download link expired before it could be fetched. "
    "Nothing was charged."
)
UNREADABLE = _(
    "Sorry: the provider's answers about this video could not be read, so the bot gave up on "
    "it. Nothing was charged; please try again."
)
SUBMIT_UNCLEAR = _(
    "Sorry: the provider did not answer clearly when this video was sent, and the bot could not "
    "tell which task was yours, so it stopped rather than risk charging you twice. Nothing was "
    "charged; please try again."
)
UNPLAYABLE = _("The provider sent a file that is not a playable video. Nothing was charged.")
KEY_GONE = _(
    "Sorry: the DashScope key this video was sent with is no longer set up on the bot, so it "
    "could not be followed. Nothing was charged; please try again."
)
NOT_POSTED = _("The video was made but could not be posted. Nothing was charged.")
NOT_UNDERSTOOD = _(
    "Sorry: this video was asked for in a way this version of the bot can no longer make (its "
    "model or options were changed by an update), so it was not made. Nothing was charged; "
    "please ask again."
)
PROVIDER_BUSY = _("The provider is busy; trying again shortly.")


def describe(code: str | None, message: str | None) -> Text:
    """A sentence for the requester about a provider failure with this code and message (the
    provider's own words stay as they came)."""
    if model_gone(code, message):
        return MODEL_GONE
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code and code.startswith("InvalidParameter"):
        if message:
            # Translators: {detail} is the provider's own explanation, often in English.
            return _(
                "The provider refused the request: {detail}. Nothing was charged.", detail=message
            )
        return _("The provider refused the request. Nothing was charged.")
    if code and code.startswith(("Throttling", "InternalError", "SystemError")):
        return _(
            "The provider had a problem and gave up on this video. Nothing was charged; try again."
        )
    if code or message:
        detail = ": ".join(part for part in (code, message) if part)
        # Translators: {detail} is the provider's error code and message, as it sent them.
        return _(
            "The provider could not make this video ({detail}). Nothing was charged.", detail=detail
        )
    return _("The provider could not make this video. Nothing was charged.")
