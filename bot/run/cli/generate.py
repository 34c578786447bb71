"""`python -m bot generate`: one video from the shell, with progress and errors on stderr."""

from __future__ import annotations

import argparse
import sys

import aiohttp

from bot.dashscope import DashScopeClient, DashScopeError
from bot.dev.headless import GenerateOptions, HeadlessRunner, TaskFailed, generate
from bot.domain.catalog import MODELS, MediaType, Region, region_of
from bot.domain.errors import InvalidInput
from bot.intake.ask import Ask
from bot.intake.references import reference_slots
from bot.run.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from bot.run.settings import Settings

_MEDIA_OPTIONS = {
    MediaType.FIRST_FRAME: "first_frame",
    MediaType.LAST_FRAME: "last_frame",
    MediaType.DRIVING_AUDIO: "audio",
    MediaType.FIRST_CLIP: "clip",
    MediaType.VIDEO: "video",
}


def _numbered(values: list[str], flag: str) -> dict[int, str]:
    """`--flag N=VALUE` options by N (1-based), refused when not of that form."""
    found: dict[int, str] = {}
    for value in values:
        number, sep, rest = value.partition("=")
        if not sep or not number.strip().isdigit() or int(number) < 1 or not rest:
            raise InvalidInput(f"{flag} takes N=VALUE with N a reference's number; got {value!r}.")
        found[int(number)] = rest
    return found


def _ask(args: argparse.Namespace) -> Ask:
    """The Ask of `generate`'s options (a badly formed N=VALUE is refused)."""
    references = reference_slots(
        args.reference, _numbered(args.reference_voice, "--reference-voice")
    )
    return Ask(
        model=args.model,
        media={
            **{
                media_type: value
                for media_type, name in _MEDIA_OPTIONS.items()
                if (value := getattr(args, name))
            },
            **references,
        },
        descriptions=_numbered(args.reference_description, "--reference-description"),
        template=args.template,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        resolution=args.resolution,
        duration=args.duration,
        ratio=args.ratio,
        shot_type=args.shot_type,
        audio_setting=args.audio_setting,
        seed=args.seed,
        prompt_extend=not args.no_prompt_extend,
        watermark=args.watermark,
    )


async def run_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Run `generate` as parsed; print progress and errors to stderr; return the exit code."""
    try:
        options = GenerateOptions(_ask(args), output=args.output)
        options.draft()  # catalogue checks first: they need no key and no network
        keys = settings.api_keys()
        if not keys:
            raise InvalidInput(
                "No DashScope API key: set DASHSCOPE_API_KEY or put dashscope_api_key in "
                "~/.alibabacloud/credentials."
            )
        key = keys[0]  # with several keys, the first
        if args.base_url or args.region:
            region = Region(args.region) if args.region else None
            base_url = settings.base_url(args.base_url, region)
        else:
            base_url = settings.key_base_url(key)
        _check_region(args.model, base_url)
        async with aiohttp.ClientSession() as session:
            client = DashScopeClient(session, api_key=key.api_key, base_url=base_url)
            async with HeadlessRunner(
                client,
                planner=settings.planner(),
                give_up_seconds=settings.unreadable_give_up_seconds,
                durations_file=settings.durations_file.expanduser(),
                retired=settings.retired(),
            ) as runner:
                result = await generate(session, client, runner, options, warn=_warn)
    except InvalidInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TaskFailed as error:
        print(f"failed: {error.code}: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    except DashScopeError as error:
        print(f"failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"done: {result.output} ({_size_text(result.size_bytes)}, task {result.task_id}, "
        f"{result.seconds:.0f} s); evidence in {result.evidence_path}",
        file=sys.stderr,
    )
    print(result.output)
    return EXIT_OK


_REGION_NAMES = {Region.BEIJING: "Beijing", Region.SINGAPORE: "Singapore", Region.US: "the US"}


def _check_region(model: str, base_url: str) -> None:
    """Refuse a model the region's endpoint does not serve, before anything is uploaded."""
    spec, region = MODELS.get(model), region_of(base_url)
    if spec is not None and region is not None and region not in spec.regions:
        served = " and ".join(_REGION_NAMES[r] for r in spec.regions)
        raise InvalidInput(
            f"{model} is served in {served} only, not {_REGION_NAMES[region]}: "
            f"use --region {spec.regions[0].value} (or a key of that region)."
        )


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
