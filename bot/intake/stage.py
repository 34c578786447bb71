"""Upload the inputs read, with the DashScope key the job will be queued on.

An upload belongs to the key's account, so the key is chosen for the job before anything is
uploaded, and the job is queued on the same key. Local bytes become temporary oss:// files; URLs
given as URLs (generate) pass through.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from bot.dashscope import DashScopeClient
from bot.domain.catalog import MediaType
from bot.domain.requests import GenerationRequest
from bot.engine.key_ring import KeyRing
from bot.intake.read import InputFile


@dataclass(frozen=True)
class Staged:
    """What the request needs: the request pointing at fetchable inputs, the inputs read, the
    name of the key they were uploaded with (the job must be queued on it), and the fingerprint
    of what it would make (None: nothing was read, as for a retry's inputs already uploaded)."""

    request: GenerationRequest
    inputs: dict[MediaType, InputFile]
    key: str | None
    dedup_key: str | None


async def stage_on_a_key(
    keys: KeyRing, request: GenerationRequest, inputs: dict[MediaType, InputFile]
) -> Staged:
    """Choose the key for the job (the uploads under way count toward its load) and upload."""
    async with keys.staging(request.model) as key:
        staged = await upload(key.client, request, inputs)
        return Staged(staged, inputs, key.name, dedup_key(staged, inputs))


async def upload(
    client: DashScopeClient,
    request: GenerationRequest,
    inputs: Mapping[MediaType, InputFile],
) -> GenerationRequest:
    """Upload local inputs as temporary oss:// files; URLs are passed through as given."""
    urls: dict[MediaType, str] = {}
    for media_type, item in inputs.items():
        if item.is_remote:
            urls[media_type] = item.source
        else:
            assert item.data is not None, "local inputs are always read"
            urls[media_type] = await client.upload(request.model, item.filename, item.data)
    return request.with_urls(urls)


def dedup_key(request: GenerationRequest, inputs: Mapping[MediaType, InputFile]) -> str:
    """A fingerprint of what a request would make: its parameters and its inputs' bytes."""
    digest = hashlib.sha256()
    body = request.body()
    for field in ("media", "img_url", "audio_url", "first_frame_url", "last_frame_url"):
        body["input"].pop(field, None)  # URLs differ between uploads of the same bytes
    digest.update(json.dumps(body, sort_keys=True).encode())
    for media_type in sorted(inputs):
        item = inputs[media_type]
        digest.update(media_type.value.encode())
        digest.update(hashlib.sha256(item.data or item.source.encode()).digest())
    return digest.hexdigest()
