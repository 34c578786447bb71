"""The engine's refusals are Texts: whole messages, every placeholder given, every piece from the
catalog, so the Discord layer can put them into the member's language."""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.dashscope.errors import DashScopeError, no_answer, result_too_large
from bot.domain.catalog import MB, WAN22_KF2V_FLASH, WAN27_I2V, MediaType, ModelSpec
from bot.domain.errors import InvalidInput, WanbotError
from bot.domain.guild import GuildSettings
from bot.domain.requests import GenerationRequest, MediaItem, check_clip_fits
from bot.i18n import Language, Text
from bot.i18n.catalogs import extract
from bot.intake.ask import Ask, Attachment
from bot.intake.draft import draft
from bot.intake.read import Unreachable, read_local
from bot.media import samples
from bot.media.edit import tail_clip
from bot.media.probe import check_described, check_media, probe

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
URLS = {
    FIRST: "https://example.com/first.png",
    LAST: "https://example.com/last.png",
    AUDIO: "https://example.com/voice.mp3",
    CLIP: "oss://dashscope-instant/abc/clip.mp4",
}


def build(model: str, *types: MediaType, **fields: Any) -> Callable[[], object]:
    media = tuple(MediaItem(type=t, url=URLS[t]) for t in types)
    return lambda: GenerationRequest.build(model=model, media=media, **fields)


def twice() -> object:
    media = (MediaItem(type=FIRST, url=URLS[FIRST]), MediaItem(type=FIRST, url=URLS[LAST]))
    return GenerationRequest.build(model="wan2.7-i2v", media=media)


def no_url() -> object:
    return GenerationRequest.build(model="wan2.7-i2v", media=(MediaItem(type=FIRST, url=" "),))


def continuing(clip_seconds: float, **fields: Any) -> Callable[[], object]:
    media = (MediaItem(type=CLIP, url=URLS[CLIP]),)
    request = GenerationRequest.build(model="wan2.7-i2v", media=media, **fields)
    return lambda: check_clip_fits(request, clip_seconds)


REQUESTS: list[tuple[str, Callable[[], object]]] = [
    ("unknown model", build("wan9", FIRST)),
    ("duration out of a range", build("wan2.7-i2v", FIRST, duration=16)),
    ("duration not in a list", build("wan2.6-i2v", FIRST, duration=7)),
    ("duration of a fixed-length model", build("wan2.2-kf2v-flash", FIRST, LAST, duration=10)),
    ("resolution, several allowed", build("wan2.7-i2v", FIRST, resolution="480P")),
    ("resolution, one allowed", build("wanx2.1-kf2v-plus", FIRST, LAST, resolution="1080P")),
    ("seed out of range", build("wan2.7-i2v", FIRST, seed=-1)),
    ("seed not a number", build("wan2.7-i2v", FIRST, seed="abc")),
    ("prompt too long", build("wan2.7-i2v", FIRST, prompt="x" * 5001)),
    ("negative prompt too long", build("wan2.7-i2v", FIRST, negative_prompt="x" * 501)),
    ("template on a model without", build("wan2.7-i2v", FIRST, template="mech1")),
    ("unknown template", build("wanx2.1-kf2v-plus", FIRST, template="sparkle")),
    ("template and prompt", build("wanx2.1-kf2v-plus", FIRST, template="mech1", prompt="go")),
    ("template, wrong inputs", build("wanx2.1-kf2v-plus", FIRST, LAST, template="mech1")),
    ("wrong inputs", build("wan2.7-i2v", LAST)),
    ("wrong inputs, one combination", build("wan2.2-kf2v-flash", FIRST)),
    ("no inputs", build("wan2.7-i2v")),
    ("an input the model does not take", build("wan2.2-kf2v-flash", FIRST, LAST, AUDIO)),
    ("an input given twice", twice),
    ("an input without a URL", no_url),
    ("a clip that leaves no room", continuing(15.0)),
    ("a duration that adds nothing", continuing(6.0, duration=5)),
]

GUILD = GuildSettings(
    10, allowed_channels=frozenset({5, 6}), banned_words=("gore",), max_duration=8
)
ATTACHMENT = Attachment("https://cdn.example/a", "song.png", 1000, "audio/mpeg")
SMALL_AUDIO = replace(WAN27_I2V, audio=replace(WAN27_I2V.audio, max_bytes=MB))


def asked(channel_id: int, **fields: Any) -> Callable[[], object]:
    return lambda: draft(Ask(None, {}, **fields), GUILD, channel_id=channel_id)


def attached(media_type: MediaType, **changes: Any) -> Callable[[], object]:
    file = replace(ATTACHMENT, **changes)
    return lambda: check_described(
        media_type, WAN27_I2V, file.size, file.content_type, file.filename
    )


def checked(
    media_type: MediaType, data: bytes, spec: ModelSpec = WAN27_I2V
) -> Callable[[], object]:
    return lambda: check_media(media_type, data, spec)


INPUTS: list[tuple[str, Callable[[], object]]] = [
    ("a channel the server does not allow", asked(7)),
    ("a banned word", asked(5, prompt="much GORE")),
    ("longer than the server allows", asked(5, duration=10)),
    ("attachment too large", attached(FIRST, size=25 * MB)),
    ("attachment empty", attached(FIRST, size=0)),
    ("attachment not an image", attached(FIRST)),
    ("attachment not audio", attached(AUDIO, content_type="image/png")),
    ("attachment not a video", attached(CLIP, content_type="image/png")),
    ("empty file", checked(AUDIO, b"")),
    ("too many bytes", checked(AUDIO, samples.make_audio(12), SMALL_AUDIO)),
    ("not an image", checked(FIRST, b"junk" * 100)),
    ("not an image, no model", lambda: probe(FIRST, b"junk" * 100)),
    ("not audio", checked(AUDIO, b"junk" * 100)),
    ("not a video", checked(CLIP, b"junk" * 100)),
    ("transparent", checked(FIRST, samples.make_image(640, 480, alpha=True))),
    ("too narrow", checked(FIRST, samples.make_image(100, 300))),
    ("too short", checked(LAST, samples.make_image(400, 200))),
    ("too wide", checked(FIRST, samples.make_image(2400, 400), WAN22_KF2V_FLASH)),
    ("too tall", checked(FIRST, samples.make_image(400, 2400), WAN22_KF2V_FLASH)),
    ("too long and thin", checked(FIRST, samples.make_image(2700, 300))),
    ("audio too short", checked(AUDIO, samples.make_audio(1))),
    ("an input the model does not take", checked(AUDIO, samples.make_audio(5), WAN22_KF2V_FLASH)),
    ("a path that is no file", lambda: read_local(FIRST, "/no/such/file.png", WAN27_I2V)),
]


def refusal(make: Callable[[], object], kind: type[WanbotError] = InvalidInput) -> WanbotError:
    with pytest.raises(kind) as refused:
        make()
    return refused.value


def texts(text: Text) -> Iterator[Text]:
    """`text` and every Text among its params, at any depth."""
    yield text
    for value in text.params.values():
        if isinstance(value, Text):
            yield from texts(value)


class Marking(gettext.NullTranslations):
    """A made-up language that marks each message it was asked for: ⟦First frame⟧."""

    def gettext(self, message: str) -> str:
        return f"⟦{message}⟧"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"⟦{msgid1 if n == 1 else msgid2}⟧"


MARKED = Language("xx", Marking())


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    """Every msgid that `make messages` would give translators (singular forms)."""
    return {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}


def check_text(error: WanbotError, extracted: set[str]) -> Text:
    text = error.text
    assert isinstance(text, Text), f"a plain string, not a Text: {text!r}"
    english = str(text)
    assert english == str(error), "str(error) is the Text's English"
    assert "{" not in english and "}" not in english, f"a placeholder was not given: {english}"
    for part in texts(text):
        assert part.msgid in extracted, f"{part.msgid!r} is not a literal in a _() call"
        for value in part.params.values():
            assert isinstance(value, Text | str | int | float), f"{value!r} cannot be stored"
    assert Text.from_json(text.to_json()) == text, "jobs keep Texts as JSON"
    return text


@pytest.mark.parametrize("make", [pytest.param(m, id=name) for name, m in REQUESTS])
def test_every_refused_request_carries_a_whole_text(
    make: Callable[[], object], extracted: set[str]
) -> None:
    text = check_text(refusal(make), extracted)
    rendered = MARKED.render(text)
    assert rendered.startswith("⟦") and rendered.endswith("⟧"), (
        f"the message is not one whole catalog entry: {rendered}"
    )


@pytest.mark.parametrize("make", [pytest.param(m, id=name) for name, m in INPUTS])
def test_every_refused_input_carries_a_whole_text(
    make: Callable[[], object], extracted: set[str]
) -> None:
    text = check_text(refusal(make), extracted)
    rendered = MARKED.render(text)
    assert rendered.startswith("⟦") and rendered.endswith("⟧"), rendered


def test_an_inputs_name_is_put_into_the_same_language() -> None:
    error = refusal(lambda: check_media(LAST, b"", WAN27_I2V))
    assert str(error) == "Last frame: the file is empty (0 bytes)."
    assert MARKED.render(error.text) == "⟦⟦Last frame⟧: the file is empty (0 bytes).⟧"


def test_a_refused_combination_is_made_of_catalog_entries_only() -> None:
    one = refusal(build("wan2.2-kf2v-flash", FIRST))
    assert MARKED.render(one.text) == (
        "⟦⟦wan2.2-kf2v-flash takes these inputs: ⟦⟦First frame⟧ + ⟦Last frame⟧⟧.⟧ "
        "⟦You gave: ⟦First frame⟧.⟧⟧"
    )
    several = refusal(build("wan2.6-i2v-flash", AUDIO))
    assert MARKED.render(several.text) == (
        "⟦⟦wan2.6-i2v-flash takes one of these sets of inputs: "
        "⟦⟦First frame⟧; ⟦⟦First frame⟧ + ⟦Driving audio⟧⟧⟧.⟧ ⟦You gave: ⟦Driving audio⟧.⟧⟧"
    )
    none = refusal(build("wan2.6-i2v-flash"))
    assert MARKED.render(none.text).endswith(".⟧ ⟦You gave no inputs.⟧⟧")


def test_the_tail_of_a_video_too_short_to_continue(tmp_path: Path, extracted: set[str]) -> None:
    source = tmp_path / "short.mp4"
    source.write_bytes(samples.make_video(1, 320, 240, fps=10))
    check_text(refusal(lambda: tail_clip(source, tmp_path / "tail.mp4")), extracted)
    sound = tmp_path / "sound.wav"
    sound.write_bytes(samples.make_audio(3))
    error = refusal(lambda: tail_clip(sound, tmp_path / "tail.mp4"))
    assert str(check_text(error, extracted)) == "The file has no video stream."


def test_a_url_that_cannot_be_fetched(extracted: set[str]) -> None:
    error = Unreachable(CLIP, "HTTP 404")
    assert str(check_text(error, extracted)) == (
        "First clip: could not download the file (HTTP 404); try attaching it again."
    )
    assert error.reason == "HTTP 404" and error.field == "first_clip"


@pytest.mark.parametrize(
    ("error", "english"),
    [
        (
            DashScopeError(400, "InvalidParameter", "bad size", "req-1"),
            "InvalidParameter: bad size (HTTP 400, request req-1)",
        ),
        (DashScopeError(503, "HTTP503", "busy"), "HTTP503: busy (HTTP 503)"),
        (
            DashScopeError(None, "ServerDisconnectedError", "gone"),
            "ServerDisconnectedError: gone (no answer)",
        ),
        (
            DashScopeError(None, "Odd", "half an answer", "req-2"),
            "Odd: half an answer (no answer, request req-2)",
        ),
        (no_answer(TimeoutError()), "TimeoutError: the request timed out (no answer)"),
        (result_too_large(64 * MB), "ResultTooLarge: the result is larger than 64 MB (no answer)"),
    ],
)
def test_a_provider_error_keeps_its_code_and_message_as_they_are(
    error: DashScopeError, english: str, extracted: set[str]
) -> None:
    assert str(check_text(error, extracted)) == english
    rendered = MARKED.render(error.text)
    assert rendered.startswith("⟦") and rendered.endswith("⟧")
    assert error.code in rendered


def test_our_words_in_a_provider_error_are_translated_but_its_message_is_not() -> None:
    assert MARKED.render(no_answer(TimeoutError()).text) == (
        "⟦TimeoutError: ⟦the request timed out⟧ (no answer)⟧"
    )
    provider = DashScopeError(400, "InvalidParameter", "bad size")
    assert MARKED.render(provider.text) == "⟦InvalidParameter: bad size (HTTP 400)⟧"
