"""The pictures and sound of a result video, drawn from the task's inputs.

The video opens on the first frame (or plays the first clip, then holds its last frame), cross-fades
to the last frame when one was given, and carries a band at its foot naming the model and mode and
the prompt's first words. Pictures are scaled to the video's size, letterboxed to keep their aspect.
An input the simulator could not see (an http(s) URL, never fetched) or could not read is drawn as
a labelled placeholder. A driving audio it can read becomes the soundtrack; otherwise a video with
sound gets a tone. The same plan always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.domain.catalog import MediaType, Reference, Slot

AUDIO_RATE = 44_100
_AUDIO_CHUNK = 1024
_BLACK = (0, 0, 0)
_PLACEHOLDER_BACKGROUND = (30, 40, 60)
_PLACEHOLDER_BAR = (240, 200, 40)
# The cross-fade to the last frame runs from this fraction of the video to the next.
_FADE = (0.35, 0.65)
# Characters Pillow's default font draws; a prompt with others is not written (boxes say nothing).
_DRAWABLE_BELOW = 0x250

Reel = Iterator[Image.Image]  # one picture per frame of the video, not to be drawn on
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class VideoPlan:
    """Everything a result video is drawn from; equal plans give equal bytes."""

    seconds: float
    width: int
    height: int
    fps: int
    sound: bool
    label: str  # "wan2.7-i2v · first+last frame"
    prompt: str  # written after the label when there is room; "" for none
    seen: tuple[tuple[Slot, bytes], ...]  # inputs whose bytes the simulator saw
    unseen: tuple[Slot, ...]  # inputs given as URLs it did not fetch
    keep_sound: bool = False  # an edit that keeps its clip's sound (else a tone, or the voice)


def mode_text(roles: frozenset[MediaType], template: str | None, multi_shot: bool = False) -> str:
    """Name what a request asks for, as the video's label shows it: "first+last frame" (a
    wan2.6 multi-shot video: "multi-shot first frame")."""
    if multi_shot:
        return "multi-shot " + mode_text(roles, template)
    if template:
        return f"effect {template}"
    if MediaType.VIDEO in roles:
        return "video edit" + ("+images" if MediaType.REFERENCE_IMAGE in roles else "")
    if roles & {MediaType.REFERENCE_IMAGE, MediaType.REFERENCE_VIDEO}:
        return "reference" + ("+first frame" if MediaType.FIRST_FRAME in roles else "")
    if MediaType.FIRST_CLIP in roles:
        mode = "continuation"
    elif {MediaType.FIRST_FRAME, MediaType.LAST_FRAME} <= roles:
        mode = "first+last frame"
    elif MediaType.FIRST_FRAME in roles:
        mode = "first frame"
    elif MediaType.LAST_FRAME in roles:
        mode = "last frame"
    else:
        mode = "text"  # no picture: text-to-video
    return mode + ("+audio" if MediaType.DRIVING_AUDIO in roles else "")


def make_result_video(plan: VideoPlan) -> bytes:
    """Encode the video a plan describes: H.264 in MP4, with AAC sound when it has sound."""
    size = (plan.width, plan.height)
    count = max(1, round(plan.seconds * plan.fps))
    seen = dict(plan.seen)
    band = _label_band(size, plan.label, plan.prompt)
    soundtrack = _soundtrack(plan, seen) if plan.sound else None
    out = io.BytesIO()
    with contextlib.ExitStack() as stack:
        container = stack.enter_context(av.open(out, mode="w", format="mp4"))
        video = container.add_stream("libx264", rate=plan.fps)
        video.width, video.height, video.pix_fmt = plan.width, plan.height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        # One thread: x264's output then does not depend on the machine's cores, and these
        # videos are too small to gain from more.
        video.codec_context.thread_count = 1
        # Sound is encoded once and its packets copied in; streams are added before any packet.
        sound = None
        if soundtrack is not None:
            sound = stack.enter_context(av.open(io.BytesIO(soundtrack), mode="r"))
            audio = container.add_stream_from_template(sound.streams.audio[0])
        for index, picture in enumerate(_frames(plan, seen, count)):
            if band is not None:
                picture.paste(band, (0, plan.height - band.height), band)
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # PyAV stub
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            for packet in sound.demux(sound.streams.audio[0]):
                if packet.dts is not None:  # not the demuxer's empty packet at the end
                    packet.stream = audio
                    container.mux(packet)
    return out.getvalue()


# -- pictures -----------------------------------------------------------------------------------


def _frames(plan: VideoPlan, seen: dict[Slot, bytes], count: int) -> Iterator[Image.Image]:
    """The video's pictures, new images the caller may draw on."""
    size = (plan.width, plan.height)
    opening = _opening_reel(plan, seen, size, count)
    closing = _picture_reel(MediaType.LAST_FRAME, plan, seen, size, count)
    if closing is None:
        for picture in opening:
            yield picture.copy()
        return
    for index, (start, end) in enumerate(zip(opening, closing, strict=True)):
        progress = index / max(1, count - 1)
        mix = min(1.0, max(0.0, (progress - _FADE[0]) / (_FADE[1] - _FADE[0])))
        yield (
            start.copy()
            if mix == 0.0
            else end.copy()
            if mix == 1.0
            else Image.blend(start, end, mix)
        )


def _opening_reel(
    plan: VideoPlan, seen: dict[Slot, bytes], size: tuple[int, int], count: int
) -> Reel:
    references = _references(plan)
    edited = seen.get(MediaType.VIDEO)
    if edited is not None or MediaType.VIDEO in plan.unseen:
        played = (
            _clip_reel(edited, size, plan.fps, count)
            if edited is not None
            else _placeholder("video to edit: http(s) URL, not fetched", size, count)
        )
        if not references:
            return played
        # The clip, with its reference images side by side across its top third.
        strip = _reference_sheet(references, seen, (size[0], max(2, size[1] // 3)))
        return (_with_strip(picture, strip) for picture in played)
    if references:
        return itertools.repeat(_reference_sheet(references, seen, size), count)
    clip = seen.get(MediaType.FIRST_CLIP)
    if clip is not None:
        return _clip_reel(clip, size, plan.fps, count)
    if MediaType.FIRST_CLIP in plan.unseen:
        return _placeholder("first clip: http(s) URL, not fetched", size, count)
    reel = _picture_reel(MediaType.FIRST_FRAME, plan, seen, size, count)
    pictures = {m for m, _ in plan.seen} | set(plan.unseen)
    if reel is None and not pictures - {MediaType.DRIVING_AUDIO}:
        # Text-to-video: nothing to show but the words asked for (and the audio, heard).
        return _placeholder(_text_scene(plan), size, count)
    return reel or _placeholder("no first frame", size, count)


def _references(plan: VideoPlan) -> list[Reference]:
    """The references given (not their voices), in their order."""
    slots = [slot for slot, _ in plan.seen] + list(plan.unseen)
    found = [slot for slot in slots if isinstance(slot, Reference) and not slot.voice]
    return sorted(found, key=lambda slot: slot.number)


def _reference_sheet(
    references: list[Reference], seen: dict[Slot, bytes], size: tuple[int, int]
) -> Image.Image:
    """Every reference side by side, each named as the prompt names it ("Image 1", "Video 1":
    counted per kind, in order), a clip by its first frame; one the simulator did not see or
    could not read, as a labelled box."""
    width, height = size
    sheet = Image.new("RGB", size, _PLACEHOLDER_BACKGROUND)
    cell = (max(2, width // len(references)), height)
    font = _font(max(8, min(24, min(cell) // 8)))
    counted: dict[MediaType, int] = {}
    for index, reference in enumerate(references):
        counted[reference.role] = counted.get(reference.role, 0) + 1
        kind = "Image" if reference.role is MediaType.REFERENCE_IMAGE else "Video"
        name = f"{kind} {counted[reference.role]}"
        data = seen.get(reference)
        picture = None
        if data is not None:
            picture = (
                _fitted_picture(data, cell)
                if reference.role is MediaType.REFERENCE_IMAGE
                else next(iter(_clip_reel(data, cell, 1, 1)), None)
            )
        if picture is None:
            picture = Image.new("RGB", cell, _PLACEHOLDER_BACKGROUND)
            name += " (not seen)" if data is None else " (unreadable)"
        else:
            picture = picture.copy()
        draw = ImageDraw.Draw(picture)
        draw.rectangle((0, 0, cell[0] - 1, cell[1] - 1), outline=_PLACEHOLDER_BAR)
        draw.text((4, 4), _fit_text(font, name, cell[0] - 8), font=font, fill="white")
        sheet.paste(picture, (index * cell[0], 0))
    return sheet


def _with_strip(picture: Image.Image, strip: Image.Image) -> Image.Image:
    shown = picture.copy()
    shown.paste(strip, (0, 0))
    return shown


def _text_scene(plan: VideoPlan) -> str:
    """What a video made from words alone shows in its middle: the prompt's first words."""
    words = " ".join(plan.prompt.split()[:6])
    return f"text to video: {words}" if words else "text to video"


def _picture_reel(
    role: MediaType,
    plan: VideoPlan,
    seen: dict[Slot, bytes],
    size: tuple[int, int],
    count: int,
) -> Reel | None:
    name = role.label.removeprefix("the ")
    data = seen.get(role)
    if data is not None:
        picture = _fitted_picture(data, size)
        if picture is None:
            return _placeholder(f"{name}: unreadable", size, count)
        return itertools.repeat(picture, count)
    if role in plan.unseen:
        return _placeholder(f"{name}: http(s) URL, not fetched", size, count)
    return None


def _fitted_picture(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", size)  # JPEGs decode at a fraction of their size: much faster
            return _fit(image.convert("RGB"), size)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # the media checker's business; here it only loses the picture


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale a picture to fit `size`, keeping its aspect, on black bars."""
    return ImageOps.pad(image, size, method=Image.Resampling.BILINEAR, color=_BLACK)


def _fit_frame(frame: av.VideoFrame, size: tuple[int, int]) -> Image.Image:
    return _fit(frame.to_image(), size)  # type: ignore[no-untyped-call]  # untyped in PyAV's stub


def _clip_reel(data: bytes, size: tuple[int, int], fps: int, count: int) -> Reel:
    """The clip at the video's frame rate, then its last frame held. Decoded as the video is
    encoded, so a long clip is never held in memory; a placeholder when it cannot be read."""
    made = 0
    held: Image.Image | None = None  # the last picture yielded, or the clip's last frame
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            latest: av.VideoFrame | None = None
            shown: Image.Image | None = None  # `latest` fitted, once needed
            frames = container.decode(video=0) if container.streams.video else iter(())
            for frame in frames:
                # Output frame k shows the latest clip frame at or before k / fps.
                while latest is not None and made < count and made / fps < (frame.time or 0.0):
                    if shown is None:
                        shown = _fit_frame(latest, size)
                    yield shown
                    held, made = shown, made + 1
                if made == count:
                    return
                latest, shown = frame, None
            if latest is not None:
                held = shown if shown is not None else _fit_frame(latest, size)
    except (av.error.FFmpegError, OSError, ValueError):
        pass  # hold what was shown, or say the clip could not be read
    if held is None:
        yield from itertools.islice(_placeholder("first clip: unreadable", size, count), made, None)
    else:
        yield from itertools.repeat(held, count - made)


def _placeholder(text: str, size: tuple[int, int], count: int) -> Reel:
    """A dark picture with a bar sweeping across it (the motion the old simulator drew) and words
    saying which input it stands for."""
    width, height = size
    font = _font(max(8, min(32, min(size) // 12)))
    # The words are drawn once and pasted on every frame: drawing text is the costly part.
    words = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(words).text(
        (width / 2, height / 2),
        _fit_text(font, text, width - 8),
        font=font,
        fill="white",
        anchor="mm",
    )
    for index in range(count):
        image = Image.new("RGB", size, _PLACEHOLDER_BACKGROUND)
        x = int(index / count * width)
        ImageDraw.Draw(image).rectangle(
            (x, 0, x + max(2, width // 20), height), fill=_PLACEHOLDER_BAR
        )
        image.paste(words, (0, 0), words)
        yield image


# -- the label band -----------------------------------------------------------------------------


def _label_band(size: tuple[int, int], label: str, prompt: str) -> Image.Image | None:
    """A translucent band with the label and the prompt's first words, or None when the video is
    too small to write on."""
    width, height = size
    font_size = max(8, min(24, min(size) // 15))
    font = _font(font_size)
    pad = max(2, font_size // 4)
    line_height = font_size + pad
    lines = [_fit_text(font, label, width - 2 * pad)]
    quoted = _first_words(font, prompt, width - 2 * pad)
    if quoted:
        lines.append(quoted)
    while lines and len(lines) * line_height + 2 * pad > height // 3:
        lines.pop()
    if not lines:
        return None
    band = Image.new("RGBA", (width, len(lines) * line_height + 2 * pad), (0, 0, 0, 150))
    draw = ImageDraw.Draw(band)
    for row, line in enumerate(lines):
        draw.text((pad, pad + row * line_height), line, font=font, fill=(255, 255, 255, 255))
    return band


@functools.cache
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _fit_text(font: Font, text: str, width: int) -> str:
    """The text, cut short with an ellipsis if it is wider than `width`."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _first_words(font: Font, prompt: str, width: int) -> str:
    """As many of the prompt's first words as fit, quoted; "" when none fits or the font cannot
    draw them."""
    words = prompt.split()
    if not words or any(ord(c) >= _DRAWABLE_BELOW and c not in "“”‘’…–—" for c in prompt):
        return ""
    for count in range(len(words), 0, -1):
        more = "…" if count < len(words) else ""
        text = f"“{' '.join(words[:count])}{more}”"
        if font.getlength(text) <= width:
            return text
    return ""


# -- sound --------------------------------------------------------------------------------------


def _audio_pcm(data: bytes, seconds: float) -> bytes | None:
    """The first `seconds` of an audio file as mono float samples, padded with silence; None when
    it cannot be read."""
    wanted = round(seconds * AUDIO_RATE) * 4
    pcm = bytearray()
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                return None
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[: out.samples * 4]
                if len(pcm) >= wanted:
                    break
            else:
                for out in resampler.resample(None):
                    pcm += bytes(out.planes[0])[: out.samples * 4]
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    return bytes(pcm[:wanted]) + bytes(max(0, wanted - len(pcm)))


def _soundtrack(plan: VideoPlan, seen: dict[Slot, bytes]) -> bytes:
    """The driving audio (else the first reference's voice) when the simulator can read it,
    else a tone, as AAC in MP4."""
    voices = [s for s in seen if isinstance(s, Reference) and s.voice]
    driving = seen.get(MediaType.DRIVING_AUDIO)
    if driving is None and plan.keep_sound:
        driving = seen.get(MediaType.VIDEO)  # its own sound, where it has one
    if driving is None and voices:
        driving = seen[min(voices, key=lambda voice: voice.number)]
    pcm = _audio_pcm(driving, plan.seconds) if driving is not None else None
    return _aac(pcm) if pcm is not None else _tone_aac(plan.seconds)


@functools.cache
def _tone_aac(seconds: float) -> bytes:
    """`seconds` of a quiet 440 Hz tone, encoded once: most videos with sound share it."""
    total = round(seconds * AUDIO_RATE)
    samples = (0.2 * math.sin(2 * math.pi * 440 * k / AUDIO_RATE) for k in range(total))
    return _aac(struct.pack(f"<{total}f", *samples))


def _aac(pcm: bytes) -> bytes:
    """Mono float samples as AAC in an audio-only MP4."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=AUDIO_RATE)
        stream.layout = "mono"
        total = len(pcm) // 4
        for start in range(0, total, _AUDIO_CHUNK):
            count = min(_AUDIO_CHUNK, total - start)
            frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
            frame.planes[0].update(pcm[start * 4 : (start + count) * 4])
            frame.sample_rate = AUDIO_RATE
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()
