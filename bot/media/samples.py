"""Make real media files in memory: images (Pillow), audio and video (PyAV).

The demo uses them as inputs, the simulator as the videos it "generates", and the tests as good
and bad attachments. The same arguments always give the same bytes' content.
"""

from __future__ import annotations

import io
import math
import struct

import av
from av.audio.stream import AudioStream
from PIL import Image, ImageDraw

_AUDIO_RATE = 44_100
_AUDIO_CHUNK = 1024


def make_image(
    width: int = 1280,
    height: int = 720,
    *,
    fmt: str = "PNG",
    alpha: bool = False,
    hue: int = 0,
) -> bytes:
    """Return an image of the given size and Pillow format; `alpha` adds a transparent corner."""
    mode = "RGBA" if alpha else "RGB"
    colour = ((hue * 67) % 256, (120 + hue * 31) % 256, (200 + hue * 13) % 256)
    image = Image.new(mode, (width, height), colour + ((255,) if alpha else ()))
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4),
        fill=(255, 230, 90) + ((255,) if alpha else ()),
    )
    if alpha:
        draw.rectangle((0, 0, width // 8, height // 8), fill=(0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def make_audio(seconds: float, *, fmt: str = "wav") -> bytes:
    """Return `seconds` of a 440 Hz tone as "wav" or "mp3"."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        codec = "pcm_s16le" if fmt == "wav" else "libmp3lame"
        stream = container.add_stream(codec, rate=_AUDIO_RATE)
        assert isinstance(stream, AudioStream)
        stream.layout = "mono"
        _encode_tone(container, stream, seconds)
    return out.getvalue()


def make_video(
    seconds: float,
    width: int = 320,
    height: int = 180,
    *,
    fps: int = 10,
    with_audio: bool = False,
    fmt: str = "mp4",
) -> bytes:
    """Return an H.264 video ("mp4" or "mov") of `seconds` with a moving bar, optionally with sound."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=_AUDIO_RATE) if with_audio else None
        if audio is not None:
            audio.layout = "mono"
        frames = max(1, round(seconds * fps))
        for index in range(frames):
            picture = _video_picture(width, height, index / frames)
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # PyAV stub
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            _encode_tone(container, audio, seconds)
    return out.getvalue()


def _video_picture(width: int, height: int, progress: float) -> Image.Image:
    image = Image.new("RGB", (width, height), (30, 40, 60))
    x = int(progress * width)
    ImageDraw.Draw(image).rectangle((x, 0, x + max(2, width // 20), height), fill=(240, 200, 40))
    return image


def _encode_tone(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    total = int(seconds * _AUDIO_RATE)
    sample_format = "s16" if stream.codec_context.name == "pcm_s16le" else "fltp"
    pack = "h" if sample_format == "s16" else "f"
    scale = 8000 if sample_format == "s16" else 0.2
    pts = 0
    while pts < total:
        count = min(_AUDIO_CHUNK, total - pts)
        samples = (
            scale * math.sin(2 * math.pi * 440 * (pts + k) / _AUDIO_RATE) for k in range(count)
        )
        values = [int(s) for s in samples] if pack == "h" else list(samples)
        frame = av.AudioFrame(format=sample_format, layout="mono", samples=count)
        frame.planes[0].update(struct.pack(f"<{count}{pack}", *values))
        frame.sample_rate = _AUDIO_RATE
        frame.pts = pts
        container.mux(stream.encode(frame))
        pts += count
    container.mux(stream.encode())
