"""DashScope's errors: what failed (the provider's code and message, kept as they are), whether
to try again, and how it reads for people (a member may meet one when an upload or a download
made for them fails)."""

from __future__ import annotations

from bot.domain.catalog import MB
from bot.domain.errors import WanbotError
from bot.i18n import Text, _

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
UNREADABLE = "UnreadableAnswer"
MODEL_NOT_FOUND = "ModelNotFound"


def model_gone(code: str | None, message: str | None) -> bool:
    """Whether the provider says the model does not exist: a retired (or never known) model.
    Which answer a retired model gets is not confirmed (../shared/dashscope-api.md §7.8), so both
    are taken: `ModelNotFound` (HTTP 404), and `InvalidParameter` saying "Model not exist"
    (what an unknown model name answers), in any case."""
    if (code or "").lower() == MODEL_NOT_FOUND.lower():
        return True
    return (code or "").lower() == "invalidparameter" and "model not exist" in (
        message or ""
    ).lower()


class DashScopeError(WanbotError):
    """The provider (or the way to it) refused or failed a call.

    `status` is the HTTP status, or None when no answer came (timeout, dropped connection).
    `message` is the provider's own words, or ours in English; `explained` is ours for people
    (its English is `message`), when the words are ours. A member may read the error (an upload
    or a download for them failed): `text` keeps the provider's code and message as they are.
    """

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        final: bool = False,
        explained: Text | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self._final = final
        self.retry_after: float | None = None  # seconds the provider asked us to wait, if it did
        super().__init__(_error_text(status, code, explained or message, request_id))

    @property
    def model_gone(self) -> bool:
        """Whether the provider says the model asked for does not exist (see `model_gone`)."""
        return model_gone(self.code, self.message)

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again may work (throttling, server trouble, no answer)."""
        return not self._final and (self.status is None or self.status in _RETRYABLE_STATUS)

    @property
    def unclear(self) -> bool:
        """Whether the call may have taken effect though it did not answer clearly (no answer,
        a server error, or an answer that could not be read): a submit must be reconciled."""
        if self.code == UNREADABLE:
            return True
        return not self._final and (self.status is None or self.status >= 500)


def result_too_large(cap: int) -> DashScopeError:
    """The error for a result over `cap` bytes."""
    limit = f"{cap / MB:g}"
    return DashScopeError(
        None,
        "ResultTooLarge",
        f"the result is larger than {limit} MB",
        final=True,
        # Translators: part of an error ("ResultTooLarge: …"); {limit} is in megabytes.
        explained=_("the result is larger than {limit} MB", limit=limit),
    )


def _error_text(status: int | None, code: str, message: Text | str, request_id: str | None) -> Text:
    """How a DashScope error reads: "InvalidParameter: … (HTTP 400, request 7f…)"."""
    if status is not None and request_id:
        # Translators: an error from DashScope, the provider that makes the videos: {code} and
        # {message} are the provider's own words (often English) or ours; {status} is an HTTP
        # status ("400"); {request_id} is the provider's reference for the call.
        return _(
            "{code}: {message} (HTTP {status}, request {request_id})",
            code=code,
            message=message,
            status=status,
            request_id=request_id,
        )
    if status is not None:
        # Translators: see "{code}: {message} (HTTP {status}, request {request_id})".
        return _("{code}: {message} (HTTP {status})", code=code, message=message, status=status)
    if request_id:
        # Translators: see "{code}: {message} (HTTP {status}, request {request_id})"; no answer
        # came back from the provider.
        return _(
            "{code}: {message} (no answer, request {request_id})",
            code=code,
            message=message,
            request_id=request_id,
        )
    # Translators: see "{code}: {message} (HTTP {status}, request {request_id})"; no answer came
    # back from the provider (a timeout, a lost connection).
    return _("{code}: {message} (no answer)", code=code, message=message)


def no_answer(exc: BaseException) -> DashScopeError:
    """The error for a call that got no answer (a timeout, a lost connection)."""
    if isinstance(exc, TimeoutError):
        # Translators: part of an error ("TimeoutError: …").
        explained = _("the request timed out")
        return DashScopeError(None, type(exc).__name__, str(explained), explained=explained)
    return DashScopeError(None, type(exc).__name__, str(exc) or type(exc).__name__)
