"""References (wan2.7-r2v): each picture or clip given in its place, told apart from what is known
of it before it is read, with the voice given for it.

A member's attachment says what it is (its content type, else its name); the shell's path or URL
says it by its name, and a local file without a telling name by its first bytes. The bytes are
checked later, like every input's (bot/intake/read.py): a "picture" that is not one is refused
there, by its reference's number.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from bot.domain.catalog import MediaType, Reference, Slot
from bot.domain.errors import InvalidInput
from bot.i18n import _
from bot.intake.ask import Attachment

S = TypeVar("S", Attachment, str)

_KINDS = {"image/": MediaType.REFERENCE_IMAGE, "video/": MediaType.REFERENCE_VIDEO}


def reference_role(number: int, source: Attachment | str) -> MediaType:
    """Whether the `number`-th reference is a picture or a clip, from what is known of it."""
    if isinstance(source, Attachment):
        kind, name = source.content_type, source.filename
    else:
        kind, name = None, source.split("?", 1)[0]
    kind = kind or mimetypes.guess_type(name)[0] or _sniffed(name)
    for family, role in _KINDS.items():
        if kind and kind.startswith(family):
            return role
    raise InvalidInput(
        # Translators: {number} is a reference's number; {name} is the file's name. References
        # are pictures or clips of people, pets or things to put in the video.
        _(
            "Reference {number}: “{name}” is neither a picture nor a video clip; give an image "
            "(JPEG, PNG, BMP, WEBP) or a clip (MP4, MOV).",
            number=number,
            name=Path(name).name or name,
        ),
        field=f"reference_{number}",
    )


def reference_slots(
    references: Sequence[S], voices: Mapping[int, S] | None = None
) -> dict[Slot, S]:
    """The references in the order given, each in its place (1, 2, …), and the voice given for
    the n-th (a voice for a reference not given is refused when the request is drafted)."""
    slots: dict[Slot, S] = {}
    roles: dict[int, MediaType] = {}
    for number, source in enumerate(references, start=1):
        roles[number] = reference_role(number, source)
        slots[Reference(number, roles[number])] = source
    for number, voice in sorted((voices or {}).items()):
        role = roles.get(number, MediaType.REFERENCE_IMAGE)
        slots[Reference(number, role, voice=True)] = voice
    return slots


def reference_options(references: Sequence[S | None], voices: Sequence[S | None]) -> dict[Slot, S]:
    """A command's reference options (`reference1`…) and voice options (`voice1`…) as slots:
    the references filled in, numbered in order (one left empty takes no number); `voiceN`
    goes with `referenceN`, and is refused when that one is empty."""
    given = [(option, source) for option, source in enumerate(references, start=1) if source]
    numbers = {option: number for number, (option, _) in enumerate(given, start=1)}
    voiced: dict[int, S] = {}
    for option, voice in enumerate(voices, start=1):
        if voice is None:
            continue
        if option not in numbers:
            raise InvalidInput(
                # Translators: voiceN and referenceN are a command's options (voice2, reference2):
                # a voice was given for a reference option left empty.
                _(
                    "voice{number}: reference{number} is empty; attach the picture or clip "
                    "whose voice it is.",
                    number=option,
                ),
                field=f"voice{option}",
            )
        voiced[numbers[option]] = voice
    return reference_slots([source for _, source in given], voiced)


def _sniffed(path: str) -> str | None:
    """A local file's kind from its first bytes, when its name says nothing."""
    file = Path(path).expanduser()
    try:
        with file.open("rb") as opened:
            head = opened.read(16)
    except OSError:
        return None
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide"):
        return "video/mp4"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"BM")) or head[8:12] == b"WEBP":
        return "image/png"
    return None
