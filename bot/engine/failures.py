"""Plain-language reasons for jobs that end without a video, by provider code or cause."""

from __future__ import annotations

_BY_CODE = {
    "DataInspectionFailed": (
        "The provider's content moderation refused the prompt, the images or the result. "
        "Try different wording or pictures. Nothing was charged."
    ),
    "IPInfringementSuspect": (
        "The provider refused this because it may infringe someone's intellectual property. "
        "Nothing was charged."
    ),
    "InvalidParameter.DataInspection": (
        "The provider could not read one of the inputs (or its format is not supported). "
        "Nothing was charged."
    ),
    "Arrearage": "The bot's DashScope account is out of credit; tell the bot's owner.",
    "InvalidApiKey": "The bot's DashScope key was refused; tell the bot's owner.",
    "AccessDenied": "The bot's DashScope account may not use this model; tell the bot's owner.",
    "Model.AccessDenied": "The bot's DashScope account may not use this model; tell the bot's owner.",
    "ModelNotFound": "The provider does not offer this model in the bot's region.",
}

EXPIRED = (
    "The provider no longer knows this task (tasks and their videos expire after 24 hours). "
    "Nothing was charged."
)
CANCELED = "Canceled. Nothing was charged."
RESULT_EXPIRED = (
    "The video was made but its download link expired before it could be fetched. "
    "Nothing was charged."
)
UNREADABLE = (
    "Sorry: the provider's answers about this video could not be read, so the bot gave up on "
    "it. Nothing was charged; please try again."
)
SUBMIT_UNCLEAR = (
    "Sorry: the provider did not answer clearly when this video was sent, and the bot could not "
    "tell which task was yours, so it stopped rather than risk charging you twice. Nothing was "
    "charged; please try again."
)
UNPLAYABLE = "The provider sent a file that is not a playable video. Nothing was charged."
KEY_GONE = (
    "Sorry: the DashScope key this video was sent with is no longer set up on the bot, so it "
    "could not be followed. Nothing was charged; please try again."
)


def describe(code: str | None, message: str | None) -> str:
    """A sentence for the requester about a provider failure with this code and message."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code and code.startswith("InvalidParameter"):
        detail = f": {message}" if message else ""
        return f"The provider refused the request{detail}. Nothing was charged."
    if code and code.startswith(("Throttling", "InternalError", "SystemError")):
        return (
            "The provider had a problem and gave up on this video. Nothing was charged; try again."
        )
    detail = f" ({code}: {message})" if code or message else ""
    return f"The provider could not make this video{detail}. Nothing was charged."
