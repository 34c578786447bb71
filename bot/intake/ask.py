"""What someone asked for, before anything is read: the options, and each input as it was given.

An input arrives as a member's `Attachment` (URL, name, size, content type, as the chat platform
states them), as a path or URL (the shell's `generate`), or as bytes the bot already `Held` (a
cut tail, a grabbed frame). A retry's inputs are already with the provider (`Uploaded`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.catalog import MediaType, Slot


@dataclass(frozen=True)
class Attachment:
    """A file a member attached, as the chat platform describes it (nothing read yet)."""

    url: str
    filename: str
    size: int
    content_type: str | None = None


@dataclass(frozen=True)
class Held:
    """Bytes the bot already holds (a cut tail, a grabbed frame), named for the upload."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Uploaded:
    """Inputs already with the provider (a retry's, uploaded for the first take), and the name
    of the key they were uploaded with (None: the first key, for jobs older than key names);
    `job` is the video they were made for and `since` when it was asked (its uploads are at
    least that old), to judge them when the input store has no word of them."""

    media: dict[Slot, str]
    key: str | None
    job: int | None = None
    since: float | None = None


# An input as given: a member's attachment, a local path or URL (generate), or bytes held.
Source = Attachment | Held | str


@dataclass
class Ask:
    """What someone asked for, before anything is downloaded."""

    model: str | None
    # A member's attachments, or generate's paths and URLs, by slot: a role given once, or the
    # n-th reference (wan2.7-r2v) and its voice.
    media: dict[Slot, Attachment | str]
    prompt: str | None = None
    negative_prompt: str | None = None
    template: str | None = None
    resolution: str | None = None
    duration: int | None = None
    ratio: str | None = None  # a model that takes no picture: the video's shape ("16:9")
    shot_type: str | None = None  # wan2.6: "single" or "multi" (None: the model's default)
    audio_setting: str | None = None  # videoedit: "auto" or "origin" (None: the model's default)
    seed: int | None = None
    prompt_extend: bool = True
    watermark: bool = False
    count: int = 1  # variations: that many videos, each with its own seed and its own seconds
    given: dict[MediaType, bytes] = field(default_factory=dict)  # inputs the bot already holds
    uploaded: Uploaded | None = None  # a retry's inputs, used as they are
    # Words about the n-th reference (1-based), sent as its `reference_description`.
    descriptions: dict[int, str] = field(default_factory=dict)
    # The input clips' billed seconds, already measured (a retry's, whose inputs are not read
    # again); None: measured when the inputs are read.
    input_seconds: float | None = None
    # A continuation without a length gets its clip's length plus the model's default, within the
    # server's longest (members); generate leaves it to the model's default, as --duration says.
    length_from_clip: bool = True

    def sources(self) -> dict[Slot, Source]:
        """Every input still to be read, by its slot."""
        held: dict[Slot, Source] = {t: Held(t.value, data) for t, data in self.given.items()}
        return {**self.media, **held}

    def roles(self) -> frozenset[MediaType]:
        """Every role the request's inputs play, read or already uploaded (a reference's voice
        plays none of its own)."""
        uploaded = self.uploaded.media if self.uploaded else {}
        slots = [*self.sources(), *uploaded]
        return frozenset(
            slot if isinstance(slot, MediaType) else slot.role
            for slot in slots
            if isinstance(slot, MediaType) or not slot.voice
        )
