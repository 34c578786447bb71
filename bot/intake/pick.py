"""Which of a message's files becomes an input, when a member acts on a whole message (its menu).

A message can carry several files of several kinds. The one taken for a role is the first file of
the kind that role takes (an image for a first frame, a video for a first clip), as the platform
describes it: its content type, else its name's extension. Nothing is read here; the file taken
is then checked like any attachment, as described before the defer (the draft) and from its bytes
after it. With several files of that kind, the caller says which one was taken (`Picked.among`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.catalog import MediaType
from bot.domain.errors import InvalidInput
from bot.i18n import Text, _
from bot.intake.ask import Attachment
from bot.media.probe import content_family


@dataclass(frozen=True)
class Picked:
    """The file taken for a role, and how many files of its kind the message has."""

    file: Attachment
    among: int  # files of the same kind on the message, the one taken (the first) included
    family: str  # the kind, as a content type starts: "image/", "video/", "audio/"


def pick(role: MediaType, files: Sequence[Attachment]) -> Picked:
    """The first of `files` of the kind `role` takes; InvalidInput, saying what is missing, when
    none is (nothing is read or charged)."""
    family = content_family(role)
    fitting = [file for file in files if family_of(file) == family]
    if not fitting:
        raise InvalidInput(nothing_to_take(family), field=role.value)
    return Picked(fitting[0], len(fitting), family)


def family_of(file: Attachment) -> str | None:
    """A file's kind as the platform describes it ("image/"), else as its name suggests."""
    kind = file.content_type or mimetypes.guess_type(file.filename)[0]
    if not kind or "/" not in kind:
        return None
    return kind.split("/", 1)[0].strip().lower() + "/"


def nothing_to_take(family: str) -> Text:
    """The refusal of a message that has no file of the kind a menu takes."""
    if family == "video/":
        return _(
            "That message has no video attached. Use this on a message with a clip (mp4 or mov)."
        )
    if family == "audio/":
        return _("That message has no audio file attached. Use this on a message with one.")
    return _("That message has no image attached. Use this on a message with a picture.")
