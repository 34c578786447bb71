"""Probing and checking input media, with real files made here (bot.media.samples, Pillow, PyAV)."""

from __future__ import annotations

import io
import random
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path

import av
import pytest
from PIL import Image

from bot.domain.catalog import (
    MB,
    WAN22_KF2V_FLASH,
    WAN26_I2V_FLASH,
    WAN27_I2V,
    MediaType,
    ModelSpec,
)
from bot.domain.errors import InvalidInput
from bot.media import samples
from bot.media.probe import MediaInfo, check_media, probe

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
LEGACY = WAN26_I2V_FLASH

image = cache(samples.make_image)
audio = cache(samples.make_audio)
video = cache(samples.make_video)


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


ELF = b"\x7fELF\x02\x01\x01\x00" + random.Random(7).randbytes(4000)
EXECUTABLE = Path(sys.executable).resolve().read_bytes()[: 64 * 1024]


def palette_png_with_transparency() -> bytes:
    out = io.BytesIO()
    Image.new("P", (400, 400), 3).save(out, format="PNG", transparency=3)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height` pixels."""
    data = bytearray(samples.make_image(300, 300))
    ihdr = struct.pack(">II", width, height) + data[24:29]
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def webm(seconds: float) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(round(seconds * 5)):
            frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), (index * 9, 80, 120)))
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def m4a(seconds: float) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44_100)
        stream.layout = "mono"
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.planes[0].update(bytes(4 * 1024))
        frame.sample_rate = 44_100
        for index in range(round(seconds * 44_100 / 1024)):
            frame.pts = index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


# --- accepted media ----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [WAN27_I2V, LEGACY], ids=lambda s: s.name)
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "WEBP"])
def test_every_accepted_image_format_passes(fmt: str, spec: ModelSpec) -> None:
    data = image(1280, 720, fmt=fmt)
    info = check_media(FIRST, data, spec)
    assert info == MediaInfo(kind="image", format=fmt, size_bytes=len(data), width=1280, height=720)


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        (WAN27_I2V, (240, 240)),
        (WAN27_I2V, (8000, 1000)),  # exactly 8:1 and the longest side
        (WAN27_I2V, (300, 2400)),  # 1:8
        (LEGACY, (360, 360)),
        (LEGACY, (2000, 360)),  # legacy models document no aspect limit
    ],
    ids=str,
)
def test_images_at_the_limits_pass(spec: ModelSpec, size: tuple[int, int]) -> None:
    info = check_media(LAST if spec is WAN27_I2V else FIRST, image(*size, fmt="JPEG"), spec)
    assert (info.width, info.height) == size


def test_webp_with_alpha_passes_and_reports_it() -> None:
    info = check_media(FIRST, image(640, 480, fmt="WEBP", alpha=True), WAN27_I2V)
    assert info.has_alpha


@pytest.mark.parametrize("spec", [WAN27_I2V, LEGACY], ids=lambda s: s.name)
@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_wav_and_mp3_pass(fmt: str, spec: ModelSpec) -> None:
    data = audio(5, fmt=fmt)
    info = check_media(AUDIO, data, spec)
    assert (info.kind, info.format, info.size_bytes) == ("audio", fmt, len(data))
    assert info.duration == pytest.approx(5, abs=0.1)
    assert info.width is None and info.height is None


@pytest.mark.parametrize("with_audio", [False, True])
@pytest.mark.parametrize("fmt", ["mp4", "mov"])
def test_mp4_and_mov_clips_pass(fmt: str, with_audio: bool) -> None:
    data = video(3, 320, 240, with_audio=with_audio, fmt=fmt)
    info = check_media(CLIP, data, WAN27_I2V)
    assert (info.kind, info.format, info.size_bytes) == ("video", fmt, len(data))
    assert (info.width, info.height, info.has_audio) == (320, 240, with_audio)
    assert info.duration == pytest.approx(3, abs=0.1)


def test_probe_reads_without_a_model() -> None:
    assert probe(FIRST, image(300, 200, fmt="GIF")).format == "GIF"
    assert probe(FIRST, image(4, 4, fmt="JPEG")).width == 4  # smaller than the 1/8 draft scale
    assert probe(FIRST, image(300, 200, alpha=True)).has_alpha
    assert probe(AUDIO, audio(31)).duration == pytest.approx(31)
    assert probe(CLIP, video(11, 240, 240, fps=2)).duration == pytest.approx(11)


# --- refused media -----------------------------------------------------------------------------

UNREADABLE_27 = (
    "First frame: the file is not an image wan2.7-i2v can read; send one of these formats: "
    "JPEG, PNG, BMP, WEBP."
)
NOT_AUDIO = "Driving audio: the file is not audio in one of these formats: WAV, MP3."
NOT_CLIP = "First clip: the file is not a video in one of these formats: MP4, MOV."

BAD: list[tuple[str, MediaType, Callable[[], bytes], ModelSpec, str]] = [
    # unreadable or unsupported images
    *[
        (
            f"half {fmt}",
            FIRST,
            lambda f=fmt: half(image(1280, 720, fmt=f)),
            WAN27_I2V,
            UNREADABLE_27,
        )
        for fmt in ("JPEG", "PNG", "BMP", "WEBP")
    ],
    ("elf image", FIRST, lambda: ELF, WAN27_I2V, UNREADABLE_27),
    ("executable image", FIRST, lambda: EXECUTABLE, WAN27_I2V, UNREADABLE_27),
    ("gif", FIRST, lambda: image(640, 480, fmt="GIF"), WAN27_I2V, UNREADABLE_27),
    ("tiff", FIRST, lambda: image(640, 480, fmt="TIFF"), WAN27_I2V, UNREADABLE_27),
    ("mp4 image", FIRST, lambda: video(3), WAN27_I2V, UNREADABLE_27),
    (
        "legacy unreadable",
        LAST,
        lambda: ELF,
        WAN22_KF2V_FLASH,
        "Last frame: the file is not an image wan2.2-kf2v-flash can read; send one of these "
        "formats: JPEG, PNG, BMP, WEBP.",
    ),
    (
        "png alpha",
        FIRST,
        lambda: image(640, 480, alpha=True),
        WAN27_I2V,
        "First frame: the PNG has transparency; save it without an alpha channel (or as JPEG).",
    ),
    (
        "palette png with transparency",
        LAST,
        palette_png_with_transparency,
        WAN22_KF2V_FLASH,
        "Last frame: the PNG has transparency; save it without an alpha channel (or as JPEG).",
    ),
    (
        "header claims a billion pixels",
        FIRST,
        lambda: png_claiming(40_000, 30_000),
        WAN27_I2V,
        "First frame: the image is far too large (more than 178 million pixels).",
    ),
    # image sizes and shapes
    (
        "too many bytes",
        FIRST,
        lambda: image(2700, 2700, fmt="BMP"),  # 21,870,054 bytes
        WAN27_I2V,
        "First frame: the file is 20.9 MB; wan2.7-i2v takes at most 20 MB.",
    ),
    (
        "too many bytes legacy",
        FIRST,
        lambda: image(2000, 2000, fmt="BMP"),  # 12,000,054 bytes
        LEGACY,
        "First frame: the file is 11.4 MB; wan2.6-i2v-flash takes at most 10 MB.",
    ),
    (
        "too many bytes, never decoded",
        FIRST,
        lambda: bytes(21 * MB),
        WAN27_I2V,
        "First frame: the file is 21.0 MB; wan2.7-i2v takes at most 20 MB.",
    ),
    (
        "too small",
        FIRST,
        lambda: image(100, 100),
        WAN27_I2V,
        "First frame: the width is 100 px; wan2.7-i2v needs at least 240 px.",
    ),
    (
        "too short",
        LAST,
        lambda: image(400, 200, fmt="WEBP"),
        WAN27_I2V,
        "Last frame: the height is 200 px; wan2.7-i2v needs at least 240 px.",
    ),
    (
        "too small legacy",
        FIRST,
        lambda: image(300, 300, fmt="JPEG"),
        LEGACY,
        "First frame: the width is 300 px; wan2.6-i2v-flash needs at least 360 px.",
    ),
    (
        "too wide",
        LAST,
        lambda: image(9000, 300),
        WAN27_I2V,
        "Last frame: the width is 9000 px; wan2.7-i2v takes at most 8000 px.",
    ),
    (
        "too tall legacy",
        FIRST,
        lambda: image(1000, 2400, fmt="JPEG"),
        LEGACY,
        "First frame: the height is 2400 px; wan2.6-i2v-flash takes at most 2000 px.",
    ),
    (
        "9:1",
        FIRST,
        lambda: image(2700, 300),
        WAN27_I2V,
        "First frame: the shape is 9:1 (2700×300); wan2.7-i2v takes shapes between 1:8 and 8:1.",
    ),
    (
        "1:10",
        LAST,
        lambda: image(240, 2400, fmt="JPEG"),
        WAN27_I2V,
        "Last frame: the shape is 1:10 (240×2400); wan2.7-i2v takes shapes between 1:8 and 8:1.",
    ),
    (
        "just over 8:1",
        FIRST,
        lambda: image(2404, 300),
        WAN27_I2V,
        "First frame: the shape is 8.02:1 (2404×300); wan2.7-i2v takes shapes between 1:8 and 8:1.",
    ),
    # audio
    ("elf audio", AUDIO, lambda: ELF, WAN27_I2V, NOT_AUDIO),
    ("executable audio", AUDIO, lambda: EXECUTABLE, WAN27_I2V, NOT_AUDIO),
    ("png audio", AUDIO, lambda: image(640, 480), WAN27_I2V, NOT_AUDIO),
    ("m4a audio", AUDIO, lambda: m4a(3), WAN27_I2V, NOT_AUDIO),
    ("mp4 audio", AUDIO, lambda: video(3, with_audio=True), WAN27_I2V, NOT_AUDIO),
    (
        "1 s",
        AUDIO,
        lambda: audio(1),
        WAN27_I2V,
        "Driving audio: the file is 1.0 s long; wan2.7-i2v takes 2–30 s.",
    ),
    (
        "2.5 s legacy",
        AUDIO,
        lambda: audio(2.5, fmt="mp3"),
        LEGACY,
        "Driving audio: the file is 2.5 s long; wan2.6-i2v-flash takes 3–30 s.",
    ),
    (
        "31 s",
        AUDIO,
        lambda: audio(31),
        WAN27_I2V,
        "Driving audio: the file is 31.0 s long; wan2.7-i2v takes 2–30 s.",
    ),
    (
        "30.02 s",
        AUDIO,
        lambda: audio(30.02),
        WAN27_I2V,
        "Driving audio: the file is 30.02 s long; wan2.7-i2v takes 2–30 s.",
    ),
    (
        "audio bytes just over the limit",
        AUDIO,
        lambda: audio(12),  # 1,058,444 bytes
        replace(WAN27_I2V, audio=replace(WAN27_I2V.audio, max_bytes=MB)),
        "Driving audio: the file is 1.01 MB; wan2.7-i2v takes at most 1 MB.",
    ),
    # clips
    ("elf clip", CLIP, lambda: ELF, WAN27_I2V, NOT_CLIP),
    ("executable clip", CLIP, lambda: EXECUTABLE, WAN27_I2V, NOT_CLIP),
    ("half mp4", CLIP, lambda: half(video(3)), WAN27_I2V, NOT_CLIP),
    ("wav clip", CLIP, lambda: audio(3), WAN27_I2V, NOT_CLIP),
    ("png clip", CLIP, lambda: image(640, 480), WAN27_I2V, NOT_CLIP),
    ("m4a clip", CLIP, lambda: m4a(3), WAN27_I2V, NOT_CLIP),
    ("avi clip", CLIP, lambda: video(3, fmt="avi"), WAN27_I2V, NOT_CLIP),
    ("mkv clip", CLIP, lambda: video(3, fmt="matroska"), WAN27_I2V, NOT_CLIP),
    ("webm clip", CLIP, lambda: webm(2), WAN27_I2V, NOT_CLIP),
    (
        "11 s",
        CLIP,
        lambda: video(11, 240, 240, fps=2),
        WAN27_I2V,
        "First clip: the file is 11.0 s long; wan2.7-i2v takes 2–10 s.",
    ),
    (
        "1 s clip",
        CLIP,
        lambda: video(1, 240, 240, fps=2, fmt="mov"),
        WAN27_I2V,
        "First clip: the file is 1.0 s long; wan2.7-i2v takes 2–10 s.",
    ),
    (
        "narrow clip",
        CLIP,
        lambda: video(3, 200, 240, fps=2),
        WAN27_I2V,
        "First clip: the width is 200 px; wan2.7-i2v needs at least 240 px.",
    ),
    (
        "wide clip",
        CLIP,
        lambda: video(2, 2000, 240, fps=2, fmt="mov"),
        WAN27_I2V,
        "First clip: the shape is 8.3:1 (2000×240); wan2.7-i2v takes shapes between 1:8 and 8:1.",
    ),
    # empty files
    *[
        (f"empty {m}", m, lambda: b"", WAN27_I2V, message)
        for m, message in (
            (FIRST, "First frame: the file is empty (0 bytes)."),
            (LAST, "Last frame: the file is empty (0 bytes)."),
            (AUDIO, "Driving audio: the file is empty (0 bytes)."),
            (CLIP, "First clip: the file is empty (0 bytes)."),
        )
    ],
    # media the model does not take
    (
        "kf2v audio",
        AUDIO,
        lambda: audio(5),
        WAN22_KF2V_FLASH,
        "Driving audio: wan2.2-kf2v-flash does not take this input.",
    ),
    (
        "flash clip",
        CLIP,
        lambda: video(3),
        LEGACY,
        "First clip: wan2.6-i2v-flash does not take this input.",
    ),
    (
        "flash last",
        LAST,
        lambda: image(640, 480),
        LEGACY,
        "Last frame: wan2.6-i2v-flash does not take this input.",
    ),
]


@pytest.mark.parametrize(
    ("media_type", "make", "spec", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_media_is_refused_with_a_clear_message(
    media_type: MediaType, make: Callable[[], bytes], spec: ModelSpec, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_media(media_type, make(), spec)
    assert str(caught.value) == message
    assert caught.value.field == media_type.value


@pytest.mark.parametrize(
    ("media_type", "message"),
    [
        (
            FIRST,
            "First frame: the file is not a readable image; send one of these formats: "
            "JPEG, PNG, BMP, WEBP.",
        ),
        (AUDIO, NOT_AUDIO),
        (CLIP, NOT_CLIP),
    ],
)
def test_probe_refuses_junk_without_naming_a_model(media_type: MediaType, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        probe(media_type, ELF)
    assert str(caught.value) == message
    assert caught.value.field == media_type.value


# Real headers followed by garbage: the decoders get a long way before failing.
JUNK_PREFIXES = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"BM",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
    b"RIFF\x00\x10\x00\x00WAVEfmt ",
    b"ID3\x03\x00\x00\x00\x00\x00\x00",
    b"\xff\xfb\x90\x64",
    b"\x00\x00\x00\x18ftypisom",
    b"\x00\x00\x00\x14ftypqt  ",
    b"\x1aE\xdf\xa3",
]


@pytest.mark.parametrize("prefix", JUNK_PREFIXES, ids=repr)
@pytest.mark.parametrize("media_type", [FIRST, AUDIO, CLIP])
def test_junk_behind_a_real_header_only_raises_invalid_input(
    media_type: MediaType, prefix: bytes
) -> None:
    junk = prefix + random.Random(prefix).randbytes(3000)
    with pytest.raises(InvalidInput) as caught:
        check_media(media_type, junk, WAN27_I2V)
    assert caught.value.field == media_type.value
