"""Media the tests make and read: noisy videos that do not compress to nothing, pixels of a PNG."""

from __future__ import annotations

import io
import math
import os
import struct
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image


def noisy_video(
    path: Path,
    seconds: float,
    width: int,
    height: int,
    *,
    fps: int | Fraction = 24,
    bit_rate: int = 4_000_000,
    with_audio: bool = False,
) -> Path:
    """Write moving noise (which does not compress to nothing) at a high bitrate."""
    # Coarse noise blocks, panned across the frame: like detailed footage, not like static.
    texture = Image.frombytes(
        "RGB",
        (width // 4 + 64, height // 4 + 64),
        os.urandom((width // 4 + 64) * (height // 4 + 64) * 3),
    ).resize((width + 256, height + 256), Image.Resampling.BILINEAR)
    frames = round(seconds * fps)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bit_rate
        video.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=48_000) if with_audio else None
        if audio is not None:
            audio.layout = "stereo"
        for index in range(frames):
            shift = round(index * 200 / frames)
            picture = texture.crop((shift, shift // 2, shift + width, shift // 2 + height))
            grain = Image.frombytes("L", (width, height), os.urandom(width * height))
            picture = Image.blend(picture, grain.convert("RGB"), 0.15)
            frame = av.VideoFrame.from_image(picture)
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            _write_tone(container, audio, seconds)
    return path


def _write_tone(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    rate, chunk = 48_000, 1024
    total = int(seconds * rate)
    for pts in range(0, total, chunk):
        count = min(chunk, total - pts)
        values = [0.2 * math.sin(2 * math.pi * 440 * (pts + k) / rate) for k in range(count)]
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=count)
        for plane in frame.planes:
            plane.update(struct.pack(f"<{count}f", *values))
        frame.sample_rate, frame.pts = rate, pts
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def pixels(png: bytes, colour: str) -> int:
    """How many pixels have exactly this colour."""
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = image.getcolors(maxcolors=image.width * image.height) or []
    return sum(count for count, found in counts if found == wanted)
