"""Upload the inputs read, with the DashScope key the job will be queued on.

An upload belongs to the key's account, so the key is chosen for the job before anything is
uploaded, and the job is queued on the same key. Local bytes become temporary oss:// files; URLs
given as URLs (generate) pass through. With an input store (the bot's), each upload's bytes are kept
under its URL, so a Retry or Remix after the upload has expired can upload them again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.domain.catalog import Slot
from bot.domain.requests import GenerationRequest
from bot.engine.inputs import InputStore
from bot.engine.key_ring import KeyRing
from bot.intake.read import InputFile


@dataclass(frozen=True)
class Staged:
    """What the request needs: the request pointing at fetchable inputs, the inputs read, the
    name of the key they were uploaded with (the job must be queued on it), and the fingerprint
    of what it would make (None: nothing was read, as for a retry's inputs already uploaded)."""

    request: GenerationRequest
    inputs: dict[Slot, InputFile]
    key: str | None
    dedup_key: str | None

    def with_seed(self, seed: int | None) -> Staged:
        """The same inputs, uploaded once, for a variation with its own `seed`: its fingerprint
        is its own, so variations are never taken for one another's earlier result."""
        request = self.request.model_copy(update={"seed": seed})
        dedup_key = None if self.dedup_key is None else request.fingerprint(_digests(self.inputs))
        return Staged(request, self.inputs, self.key, dedup_key)


def _digests(inputs: dict[Slot, InputFile]) -> dict[Slot, bytes]:
    return {t: hashlib.sha256(i.data or i.source.encode()).digest() for t, i in inputs.items()}


async def stage_on_a_key(
    keys: KeyRing,
    request: GenerationRequest,
    inputs: dict[Slot, InputFile],
    *,
    store: InputStore | None = None,
) -> Staged:
    """Choose the key for the job (the uploads under way count toward its load) and upload with
    it: local inputs become temporary oss:// files (kept in `store`, if given), URLs pass
    through as given."""
    async with keys.staging(request.model) as key:
        urls: dict[Slot, str] = {}
        for media_type, item in inputs.items():
            if item.is_remote:
                urls[media_type] = item.source
            else:
                assert item.data is not None, "local inputs are always read"
                url = await key.client.upload(request.model, item.filename, item.data)
                urls[media_type] = url
                if store is not None:
                    await store.keep(url, item.filename, item.data)
        staged = request.with_urls(urls)
        return Staged(staged, inputs, key.name, staged.fingerprint(_digests(inputs)))
