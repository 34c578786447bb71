"""Re-encode videos with PyAV: fit a result under an upload limit, cut a tail to continue, grab a frame.

Everything here is CPU-bound and blocking; callers run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from bot.domain.errors import InvalidInput
from bot.i18n import _

AUDIO_BITRATE = 96_000
# Share of the byte budget given to the streams; the rest covers the container and rate-control misses.
_HEADROOM = 0.92
# Below this many bits per pixel per frame, hard content (grain, fast motion) falls under an SSIM
# of 0.95 against the source at the size chosen: fewer, larger pixels look better, and fewer
# pixels encode faster. Measured by bench/bench_fit.py: a grainy 15 s 1080p30 under 10 MiB (5 Mbit/s)
# keeps SSIM 0.89 at 1080p (0.08 bit/pixel), 0.96 at 720p (0.18). Discord's player shows a result
# at a few hundred pixels; a smooth video has SSIM to spare at any of these sizes.
_MIN_BITS_PER_PIXEL = 0.18
# x264's speed for a fit: "superfast" keeps the SSIM of "veryfast" at these bitrates (within
# 0.001 on the bench's source) for about 30 % less CPU; "ultrafast" loses 0.05 (no CABAC).
_FIT_PRESET = "superfast"
_MAX_FPS = 30
# Timestamps computed in different time bases may disagree by a rounding step.
_TIME_SLACK = 0.001
_MAX_ATTEMPTS = 3
_RETRY_MARGIN = 0.95

# wan2.7's first_clip: 2–10 s, sides 240–4096 px.
CLIP_MIN_SECONDS = 2.0
CLIP_MAX_SECONDS = 10.0
CLIP_MIN_SIDE = 240
CLIP_MAX_SIDE = 4096
# The tail clip is an input to the next generation: keep it close to the source quality, but cap
# the rate so 10 s at 4096 px stays far below the provider's 100 MB.
_CLIP_CRF = "20"
_CLIP_MAXRATE = 40_000_000

_AAC_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000})


@dataclass(frozen=True)
class FitResult:
    path: Path
    size_bytes: int
    width: int
    height: int
    video_bitrate: int  # bit/s used for the attempt that fit
    attempts: int


@dataclass(frozen=True)
class _Encoding:
    """How to encode the video stream: a size, and either a bitrate (ABR) or a quality (CRF)."""

    width: int
    height: int
    options: dict[str, object]
    bit_rate: int = 0


def fit_video(
    source: Path,
    target: Path,
    limit_bytes: int,
    *,
    min_video_bitrate: int = 200_000,
    min_height: int = 240,
) -> FitResult | None:
    """Re-encode `source` into `target` (mp4) at most `limit_bytes`, keeping its aspect ratio; None if it cannot fit at a watchable quality."""
    with av.open(str(source)) as container:
        video = _video_stream(container)
        width, height = video.codec_context.width, video.codec_context.height
        fps = _output_fps(video)
        has_audio = bool(container.streams.audio)
        duration = _container_seconds(container)
    if not duration or duration <= 0:
        raise ValueError(f"{source.name} has no duration")
    audio_budget = AUDIO_BITRATE if has_audio else 0
    video_bitrate = int(limit_bytes * 8 * _HEADROOM / duration) - audio_budget
    try:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            if video_bitrate < min_video_bitrate:
                break
            out_width, out_height = _fit_size(width, height, video_bitrate, fps, min_height)
            encoding = _Encoding(
                width=out_width,
                height=out_height,
                bit_rate=video_bitrate,
                options={
                    "preset": _FIT_PRESET,
                    "maxrate": str(int(video_bitrate * 1.2)),
                    "bufsize": str(video_bitrate * 2),
                },
            )
            _transcode(source, target, encoding, start=0.0, end=None)
            size = target.stat().st_size
            if size <= limit_bytes:
                return FitResult(target, size, out_width, out_height, video_bitrate, attempt)
            video_bitrate = int(video_bitrate * limit_bytes / size * _RETRY_MARGIN)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    target.unlink(missing_ok=True)
    return None


def tail_clip(source: Path, target: Path, *, seconds: float = 10.0) -> float:
    """Write the last `seconds` (at most) of `source` to `target` as an mp4 fit to continue (wan2.7 first_clip: 2–10 s, sides 240–4096); return its duration. Raise bot.domain.errors.InvalidInput if the source is shorter than 2 s."""
    if not CLIP_MIN_SECONDS <= seconds <= CLIP_MAX_SECONDS:
        raise ValueError(
            f"seconds must be {CLIP_MIN_SECONDS:g}–{CLIP_MAX_SECONDS:g}, not {seconds}"
        )
    with av.open(str(source)) as container:
        video = _video_stream(container)
        width, height = video.codec_context.width, video.codec_context.height
        fps = _output_fps(video)
        first, end = _video_span(container, video)
    length = end - first
    if length < CLIP_MIN_SECONDS:
        raise InvalidInput(
            # Translators: the video is one the bot made, which a member asked to continue.
            _(
                "The video is {length} s long; continuing needs at least {shortest} s.",
                length=f"{length:.1f}",
                shortest=f"{CLIP_MIN_SECONDS:g}",
            ),
            field="first_clip",
        )
    window = min(seconds, length)
    start = end - window
    out_width, out_height = _clip_size(width, height)
    encoding = _Encoding(
        width=out_width,
        height=out_height,
        options={
            "preset": "veryfast",
            "crf": _CLIP_CRF,
            "maxrate": str(_CLIP_MAXRATE),
            "bufsize": str(2 * _CLIP_MAXRATE),
        },
    )
    try:
        _transcode(source, target, encoding, start=start, end=end, fps=fps)
        with av.open(str(target)) as written:
            return _container_seconds(written) or 0.0
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def last_frame_png(source: Path) -> bytes:
    """The last frame of `source` as PNG bytes (RGB, no alpha), usable as a first frame."""
    frame = _last_frame(source, seek=True) or _last_frame(source, seek=False)
    if frame is None:
        raise InvalidInput(_("The video has no frames."), field="first_frame")
    out = io.BytesIO()
    picture = frame.to_image()  # type: ignore[no-untyped-call]  # untyped in PyAV's stub
    picture.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _last_frame(source: Path, *, seek: bool) -> VideoFrame | None:
    with av.open(str(source)) as container:
        video = _video_stream(container)
        video.codec_context.thread_type = "AUTO"
        if seek:
            _, end = _video_span(container, video)
            try:
                # A backward seek lands on the keyframe at or before the target, so decoding
                # forward from there reaches the end whatever the keyframe interval.
                _seek(container, video, max(0.0, end - 1.0))
            except av.error.FFmpegError:
                return None
        last = None
        for frame in container.decode(video):
            last = frame
        return last


def _transcode(
    source: Path,
    target: Path,
    encoding: _Encoding,
    *,
    start: float,
    end: float | None,
    fps: Fraction | None = None,
) -> int:
    """Decode `source` from `start` (source seconds) to `end` and encode it into `target`; return the frames written."""
    with av.open(str(source)) as container:
        video_in = _video_stream(container)
        video_in.codec_context.thread_type = "AUTO"
        audio_in = container.streams.audio[0] if container.streams.audio else None
        rate = fps or _output_fps(video_in)
        time_base = Fraction(1) / rate
        # With an end, the output must not outlast end - start (a 10.01 s clip is refused).
        max_frames = None if end is None else math.floor((end - start) * rate + 1e-6)
        if start > 0:
            _seek(container, video_in, start)
        with _output(target) as output:
            video_out = output.add_stream("libx264", rate=rate)
            video_out.width, video_out.height = encoding.width, encoding.height
            video_out.pix_fmt = "yuv420p"
            if encoding.bit_rate:
                video_out.bit_rate = encoding.bit_rate
            video_out.options = encoding.options
            video_out.codec_context.thread_type = "AUTO"
            audio = _AudioCopy(output, audio_in, end) if audio_in is not None else None
            # Both streams start at the first kept video frame; audio decoded before it is known
            # (the video decoder lags a few packets behind) waits here.
            origin: float | None = None
            early_audio: list[av.AudioFrame] = []
            written, last_pts = 0, -1
            streams = [video_in] if audio_in is None else [video_in, audio_in]
            for packet in container.demux(streams):
                for frame in packet.decode():
                    if not isinstance(frame, VideoFrame):
                        if audio is None or not isinstance(frame, AudioFrame):
                            continue
                        if origin is None:
                            early_audio.append(frame)
                        else:
                            audio.push(frame)
                        continue
                    seconds = frame.time if frame.time is not None else start + written / rate
                    if seconds < start - _TIME_SLACK or (end is not None and seconds >= end):
                        continue
                    if origin is None:
                        origin = seconds
                        if audio is not None:
                            audio.begin(origin, early_audio)
                    # Each frame takes the grid slot it falls in (rounding to the nearest would
                    # push a 60 fps source's last frame past the end); a faster source loses the
                    # extra frames. The small bias absorbs float error on an exact slot.
                    pts = math.floor((seconds - origin) / time_base + 0.01)
                    if pts <= last_pts or (max_frames is not None and pts >= max_frames):
                        continue
                    scaled = _scaled(frame, encoding.width, encoding.height)
                    scaled.pts, scaled.time_base = pts, time_base
                    output.mux(video_out.encode(scaled))
                    written, last_pts = written + 1, pts
            output.mux(video_out.encode(None))
            if audio is not None and origin is not None:
                audio.finish()
    return written


def _scaled(frame: VideoFrame, width: int, height: int) -> VideoFrame:
    # reformat copies even when nothing changes; at 1080p that is ~1 ms a frame for nothing.
    if (frame.width, frame.height, frame.format.name) == (width, height, "yuv420p"):
        return frame
    # Averaging areas is the cheapest good downscale (bilinear aliases fine detail).
    shrinking = width < frame.width
    return frame.reformat(width, height, "yuv420p", interpolation="AREA" if shrinking else None)


@contextlib.contextmanager
def _output(target: Path) -> Iterator[OutputContainer]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(
        str(target), mode="w", format="mp4", container_options={"movflags": "+faststart"}
    ) as output:
        yield output


class _AudioCopy:
    """Re-encode one audio stream to AAC, keeping only the samples between `begin`'s origin and `end`."""

    def __init__(self, output: OutputContainer, source: AudioStream, end: float | None) -> None:
        rate = source.codec_context.sample_rate or 48_000
        self.rate = rate if rate in _AAC_RATES else 48_000
        layout = "mono" if source.codec_context.channels == 1 else "stereo"
        self.output = output
        self.stream = output.add_stream("aac", rate=self.rate)
        self.stream.layout = layout
        self.stream.bit_rate = AUDIO_BITRATE
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)
        self.fifo = av.AudioFifo()
        self.end = end
        self.origin = 0.0
        self.allowed: int | None = None
        self.time_base = Fraction(1, self.rate)
        self.next_time: float | None = None  # source time of the next resampled sample
        self.emitted = 0
        self.frame_size = self.stream.codec_context.frame_size or 1024

    def begin(self, origin: float, early: list[av.AudioFrame]) -> None:
        """Start the output at source time `origin`, then take the frames decoded before it was known."""
        self.origin = origin
        if self.end is not None:
            self.allowed = math.floor((self.end - origin) * self.rate)
        for frame in early:
            self.push(frame)
        early.clear()

    def push(self, frame: av.AudioFrame) -> None:
        if self.next_time is None:
            # Counting samples from the first frame's time keeps the resampler's delay out of it.
            self.next_time = frame.time if frame.time is not None else 0.0
        for resampled in self.resampler.resample(frame):
            self._take(resampled)
        self._drain(partial=False)

    def finish(self) -> None:
        for resampled in self.resampler.resample(None):
            self._take(resampled)
        self._drain(partial=True)
        self.output.mux(self.stream.encode(None))

    def _take(self, frame: av.AudioFrame) -> None:
        assert self.next_time is not None
        begins, count = self.next_time, frame.samples
        self.next_time += count / self.rate
        skip = min(count, max(0, round((self.origin - begins) * self.rate)))
        if skip == count:
            return
        frame.pts = None
        self.fifo.write(frame)
        if skip:
            self.fifo.read(skip)

    def _drain(self, *, partial: bool) -> None:
        while True:
            wanted = self.frame_size
            if self.allowed is not None:
                wanted = min(wanted, self.allowed - self.emitted)
            if wanted <= 0 or self.fifo.samples == 0:
                return
            if self.fifo.samples < wanted and not partial:
                return
            chunk = self.fifo.read(min(wanted, self.fifo.samples))
            if chunk is None:
                return
            chunk.pts, chunk.time_base = self.emitted, self.time_base
            self.emitted += chunk.samples
            self.output.mux(self.stream.encode(chunk))


def _video_stream(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise InvalidInput(_("The file has no video stream."), field="first_clip")
    return container.streams.video[0]


def _output_fps(video: VideoStream) -> Fraction:
    rate = video.average_rate or video.guessed_rate or video.base_rate
    if not rate or rate <= 0:
        return Fraction(_MAX_FPS)
    return min(Fraction(rate), Fraction(_MAX_FPS))


def _container_seconds(container: InputContainer) -> float | None:
    if container.duration is not None:
        return container.duration / av.time_base
    spans = [
        float(stream.duration * stream.time_base)
        for stream in container.streams
        if stream.duration is not None and stream.time_base is not None
    ]
    return max(spans, default=None)


def _video_span(container: InputContainer, video: VideoStream) -> tuple[float, float]:
    """Source seconds of the video's first frame and of its end."""
    time_base = video.time_base or Fraction(1, 90_000)
    first = float(video.start_time * time_base) if video.start_time is not None else 0.0
    if video.duration is not None:
        return first, first + float(video.duration * time_base)
    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    return first, start + (_container_seconds(container) or 0.0)


def _seek(container: InputContainer, video: VideoStream, seconds: float) -> None:
    container.seek(int(seconds / (video.time_base or Fraction(1, 90_000))), stream=video)


def _fit_size(
    width: int, height: int, video_bitrate: int, fps: Fraction, min_height: int
) -> tuple[int, int]:
    """The largest size (never above the source) that gets enough bits per pixel per frame."""
    pixels = video_bitrate / (_MIN_BITS_PER_PIXEL * float(fps))
    scale = min(1.0, math.sqrt(pixels / (width * height)))
    short = min(width, height)
    # min_height bounds the shorter side, so a portrait video is not squeezed to 240 px tall.
    if short * scale < min_height:
        scale = min(1.0, min_height / short)
    return _even(width * scale), _even(height * scale)


def _clip_size(width: int, height: int) -> tuple[int, int]:
    scale = 1.0
    if min(width, height) < CLIP_MIN_SIDE:
        scale = CLIP_MIN_SIDE / min(width, height)
    if max(width, height) * scale > CLIP_MAX_SIDE:
        scale = CLIP_MAX_SIDE / max(width, height)
    out_width, out_height = _even(width * scale), _even(height * scale)
    if min(width, height) * scale >= CLIP_MIN_SIDE:
        # Rounding to even must not take a side back under the provider's minimum.
        out_width, out_height = max(out_width, CLIP_MIN_SIDE), max(out_height, CLIP_MIN_SIDE)
    return out_width, out_height


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
