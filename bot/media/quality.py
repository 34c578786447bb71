"""How much of a video survives a re-encode: SSIM of one against the other, by FFmpeg's filter.

The reference is scaled to the other's size first (bicubic), so a fit that downscales is judged on
what it kept at the size it chose, as a member sees it; frames are paired in order. Blocking:
callers run it in a worker thread (or a benchmark).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.video.frame import VideoFrame

_TIME_BASE = Fraction(1, 1000)


def ssim(reference: Path, distorted: Path, *, every: int = 1) -> float:
    """The mean SSIM (FFmpeg's `ssim` filter, all planes) of `distorted` against `reference`
    scaled to its size, over every `every`-th pair of frames."""
    with av.open(str(distorted)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    graph = av.filter.Graph()
    planar = av.VideoFormat("yuv420p")
    main = graph.add_buffer(width=width, height=height, format=planar, time_base=_TIME_BASE)
    ref = graph.add_buffer(width=width, height=height, format=planar, time_base=_TIME_BASE)
    compare = graph.add("ssim")
    sink = graph.add("buffersink")
    main.link_to(compare, 0, 0)
    ref.link_to(compare, 0, 1)
    compare.link_to(sink)
    graph.configure()
    scores = []
    pairs = zip(_frames(distorted), _frames(reference), strict=False)
    for index, (seen, original) in enumerate(pairs):
        if index % every:
            continue
        for frame, source in ((seen, main), (original, ref)):
            frame = frame.reformat(width, height, "yuv420p", interpolation="BICUBIC")
            frame.pts, frame.time_base = index, _TIME_BASE
            source.push(frame)
        scores.append(float(sink.pull().metadata["lavfi.ssim.All"]))
    if not scores:
        raise ValueError(f"{distorted.name} and {reference.name} have no frames to compare")
    return statistics.fmean(scores)


def _frames(path: Path) -> Iterator[VideoFrame]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        yield from container.decode(stream)
