"""Upload the inputs read, with the DashScope key the job will be queued on.

An upload belongs to the key's account, so the key is chosen for the job before anything is
uploaded, and the job is queued on the same key. Local bytes become temporary oss:// files; URLs
given as URLs (generate) pass through.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
    """Choose the key for the job (the uploads under way count toward its load) and upload with
    it: local inputs become temporary oss:// files, URLs pass through as given."""
    async with keys.staging(request.model) as key:
        urls: dict[MediaType, str] = {}
        for media_type, item in inputs.items():
            if item.is_remote:
                urls[media_type] = item.source
            else:
                assert item.data is not None, "local inputs are always read"
                urls[media_type] = await key.client.upload(request.model, item.filename, item.data)
        staged = request.with_urls(urls)
        digests = {
            t: hashlib.sha256(i.data or i.source.encode()).digest() for t, i in inputs.items()
        }
        return Staged(staged, inputs, key.name, staged.fingerprint(digests))
