"""`python -m bot demo`: every mode, end to end, against the built-in simulator.

No credentials and no network: the simulator runs in-process on a free loopback port, the
inputs are made here, and each mode goes through the same `generate` path as the CLI.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.dev.headless import GenerateOptions, HeadlessRunner, Result, generate
from bot.domain.catalog import MediaType, Reference, Slot
from bot.engine.runner import EngineConfig
from bot.engine.timing import PollPlanner
from bot.intake.ask import Ask
from bot.media import samples
from bot.media.probe import MediaInfo, check_media, probe
from bot.simulator import Simulator, SimulatorConfig

_FIRST, _LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
_AUDIO, _CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
_REF_IMAGE, _REF_VIDEO = MediaType.REFERENCE_IMAGE, MediaType.REFERENCE_VIDEO


@dataclass(frozen=True)
class DemoMode:
    name: str
    model: str
    media: dict[Slot, str]  # role (or the n-th reference, or its voice) -> sample file name
    prompt: str | None = None
    template: str | None = None
    duration: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    audio_setting: str | None = None


MODES: tuple[DemoMode, ...] = (
    DemoMode(
        "first-frame",
        "wan2.7-i2v",
        {_FIRST: "first.png"},
        prompt="The sun rises slowly over the hill",
    ),
    DemoMode(
        "first-frame+audio",
        "wan2.7-i2v",
        {_FIRST: "first.png", _AUDIO: "voice.wav"},
        prompt="The sun hums along to the tune",
        duration=4,
    ),
    DemoMode(
        "first+last-frame",
        "wan2.7-i2v",
        {_FIRST: "first.png", _LAST: "last.png"},
        prompt="Day turns to night",
        resolution="720P",
    ),
    DemoMode(
        "continuation",
        "wan2.7-i2v",
        {_CLIP: "clip.mp4"},
        prompt="The bar keeps sliding to the right",
        duration=8,
        resolution="720P",
    ),
    DemoMode(
        "kf2v",
        "wan2.2-kf2v-flash",
        {_FIRST: "first.png", _LAST: "last.png"},
        prompt="A smooth dissolve from day to night",
        resolution="480P",
    ),
    DemoMode("effect-template", "wanx2.1-kf2v-plus", {_FIRST: "first.png"}, template="mech1"),
    DemoMode("text", "wan2.7-t2v", {}, prompt="A paper boat sails across a puddle", duration=3),
    DemoMode(
        "text+audio",
        "wan2.7-t2v",
        {_AUDIO: "voice.wav"},
        prompt="A lighthouse keeper sings to the sea",
        duration=4,
        resolution="720P",
        ratio="4:3",
    ),
    DemoMode(
        "reference",
        "wan2.7-r2v",
        {
            Reference(1, _REF_IMAGE): "first.png",
            Reference(1, _REF_IMAGE, voice=True): "voice.wav",
            Reference(2, _REF_VIDEO): "clip.mp4",
        },
        prompt="Image 1 sings while Video 1 slides by",
        duration=4,
        resolution="720P",
        ratio="1:1",
    ),
    DemoMode(
        "video-edit",
        "wan2.7-videoedit",
        {MediaType.VIDEO: "clip.mp4", Reference(1, _REF_IMAGE): "last.png"},
        prompt="Turn the scene into claymation",
        resolution="720P",
        audio_setting="origin",
    ),
    DemoMode(
        "first-frame (img_url)",
        "wan2.6-i2v-flash",
        {_FIRST: "first.png"},
        prompt="Clouds drift past the sun",
        resolution="720P",
    ),
)

# Fast timings so the whole demo takes seconds; the real service takes minutes.
DEMO_PLANNER = PollPlanner(dense_interval=0.2, longest_interval=0.5)


def write_sample_inputs(folder: Path) -> None:
    """Write the demo's input files: two frames, a voice track and a clip."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "first.png").write_bytes(samples.make_image(1280, 720, hue=0))
    (folder / "last.png").write_bytes(samples.make_image(1280, 720, hue=3))
    (folder / "voice.wav").write_bytes(samples.make_audio(4.0))
    (folder / "clip.mp4").write_bytes(samples.make_video(3.0, 640, 360, with_audio=True))


async def run_demo(output_dir: Path) -> int:
    """Run every mode; print a summary table; return 0 when every mode made a playable mp4."""
    inputs = output_dir / "inputs"
    write_sample_inputs(inputs)
    simulator = Simulator(
        SimulatorConfig(pending_seconds=0.5, running_seconds=1.0, media_checker=check_media)
    )
    base_url = await simulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = DashScopeClient(session, api_key=SecretStr("demo-key"), base_url=base_url)
            async with HeadlessRunner(client, planner=DEMO_PLANNER) as runner:
                # The modes share one requester, who may have only so many videos waiting.
                slots = asyncio.Semaphore(EngineConfig.max_waiting_per_user)
                outcomes = await asyncio.gather(
                    *(
                        _run_mode(slots, session, client, runner, m, inputs, output_dir)
                        for m in MODES
                    ),
                    return_exceptions=True,
                )
    finally:
        await simulator.close()
    rows = [_row(mode, outcome) for mode, outcome in zip(MODES, outcomes, strict=True)]
    _print_table(rows)
    failures = sum(1 for row in rows if row[3] != "ok")
    print(f"\n{len(MODES) - failures}/{len(MODES)} modes made a playable mp4 in {output_dir}/")
    return 0 if failures == 0 else 1


async def _run_mode(
    slots: asyncio.Semaphore,
    session: aiohttp.ClientSession,
    client: DashScopeClient,
    runner: HeadlessRunner,
    mode: DemoMode,
    inputs: Path,
    output_dir: Path,
) -> tuple[Result, MediaInfo]:
    ask = Ask(
        model=mode.model,
        media={role: str(inputs / name) for role, name in mode.media.items()},
        template=mode.template,
        prompt=mode.prompt,
        duration=mode.duration,
        resolution=mode.resolution,
        ratio=mode.ratio,
        audio_setting=mode.audio_setting,
    )
    options = GenerateOptions(ask, output=output_dir / f"{_slug(mode.name)}.mp4")
    async with slots:
        result = await generate(session, client, runner, options, label=f"{mode.name:<22}")
    return result, probe(_CLIP, result.output.read_bytes())


def _row(mode: DemoMode, outcome: tuple[Result, MediaInfo] | BaseException) -> list[str]:
    inputs = " + ".join(_input_name(slot) for slot in mode.media) or "prompt alone"
    inputs += f" [{mode.template}]" if mode.template else ""
    inputs += f" [{mode.ratio}]" if mode.ratio else ""
    inputs += f" [{mode.audio_setting}]" if mode.audio_setting else ""
    if isinstance(outcome, BaseException):
        return [mode.name, mode.model, inputs, f"FAILED: {outcome}", "", "", "", ""]
    result, info = outcome
    return [
        mode.name,
        mode.model,
        inputs,
        "ok",
        f"{info.duration:.1f} s" if info.duration else "?",
        f"{info.width}×{info.height}",
        "yes" if info.has_audio else "no",
        str(result.output),
    ]


def _input_name(slot: Slot) -> str:
    """How the table names an input: its role ("first_frame"), a reference by its role and
    place ("reference_image 1"), a voice by whose it is ("voice 1")."""
    if isinstance(slot, MediaType):
        return slot.value
    return f"voice {slot.number}" if slot.voice else f"{slot.role.value} {slot.number}"


def _print_table(rows: list[list[str]]) -> None:
    header = ["mode", "model", "inputs", "status", "length", "size", "sound", "file"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")
