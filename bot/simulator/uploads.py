"""The fake OSS behind DashScope's temporary uploads: who may upload where, and what was stored.

A policy is granted per model through the API (`GET /uploads?action=getPolicy`); the form posted to
the OSS host must carry that policy, its signature and a key inside its upload directory, as
Alibaba's PostObject does. A stored file is then usable as `oss://<key>` by that model only, and
by the account whose key asked for the policy only, for 48 hours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import BodyPartReader, web

from bot.dashscope.models import PROVIDER_TIMEZONE
from bot.domain.catalog import MB, MODELS
from bot.simulator.config import Context
from bot.simulator.wire import ACCOUNT_KEY, OSS_PATH, OssError, bad, ok

POLICY_TTL_SECONDS = 300
UPLOAD_TTL_SECONDS = 48 * 3600
MAX_FILE_SIZE_MB = 100
OSS_ACCESS_KEY_ID = "LTAI5tSimulatorAccessKey"


@dataclass(frozen=True)
class StoredUpload:
    """A file posted to the fake OSS, usable as `oss://<key>` with the model it was meant for."""

    key: str
    data: bytes
    model: str
    time: float
    content_type: str | None
    account: str = field(default="", repr=False)  # whose key asked for the policy


@dataclass(frozen=True)
class _Policy:
    policy: str
    signature: str
    upload_dir: str
    model: str
    expires_at: float
    max_bytes: int
    account: str


class Uploads:
    """Grants upload policies, takes the posted forms and keeps the files, keyed by oss:// URL."""

    def __init__(self, context: Context) -> None:
        self.files: dict[str, StoredUpload] = {}
        self._context = context
        self._policies: dict[str, _Policy] = {}

    def find(self, url: str, model: str, account: str) -> StoredUpload | None:
        """Return the file at an oss:// URL if it was uploaded for `model` by `account` (any key
        of it, when keys share one) and has not expired."""
        upload = self.files.get(url)
        if (
            upload is None
            or upload.model != model
            or (upload.account != account and not self._context.config.keys_share_account)
            or self._context.clock() - upload.time > UPLOAD_TTL_SECONDS
        ):
            return None
        return upload

    async def get_policy(self, request: web.Request) -> web.Response:
        """Grant a signed policy to upload one file for a model."""
        if request.query.get("action") != "getPolicy":
            raise bad("action must be getPolicy.")
        model = request.query.get("model")
        if not model or model not in MODELS:
            raise bad(f"Model not exist: model {model!r} cannot take uploads.")
        now = self._context.clock()
        # DashScope stamps the directory with the day in Beijing time.
        day = datetime.fromtimestamp(now, PROVIDER_TIMEZONE).strftime("%Y-%m-%d")
        upload_dir = f"dashscope-instant/{secrets.token_hex(16)}/{day}/{uuid.uuid4()}"
        expires_at = now + POLICY_TTL_SECONDS
        max_bytes = MAX_FILE_SIZE_MB * MB
        document = {
            "expiration": datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "conditions": [
                ["content-length-range", 0, max_bytes],
                ["starts-with", "$key", upload_dir],
            ],
        }
        policy = base64.b64encode(json.dumps(document).encode()).decode()
        signature = base64.b64encode(
            hmac.new(self._context.secret, policy.encode(), hashlib.sha1).digest()
        ).decode()
        self._policies[policy] = _Policy(
            policy, signature, upload_dir, model, expires_at, max_bytes, request[ACCOUNT_KEY]
        )
        return ok(
            {
                "data": {
                    "policy": policy,
                    "signature": signature,
                    "upload_dir": upload_dir,
                    "upload_host": f"http://{request.host}{OSS_PATH}",
                    "expire_in_seconds": POLICY_TTL_SECONDS,
                    "max_file_size_mb": MAX_FILE_SIZE_MB,
                    "capacity_limit_mb": 999_999_999,
                    "oss_access_key_id": OSS_ACCESS_KEY_ID,
                    "x_oss_object_acl": "private",
                    "x_oss_forbid_overwrite": "true",
                }
            }
        )

    async def upload(self, request: web.Request) -> web.Response:
        """Take a PostObject form and store its file under the policy it carries."""
        if not request.content_type.startswith("multipart/"):
            raise OssError(400, "InvalidArgument", "The request must be multipart/form-data.")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.name != "file":
                fields[part.name] = await part.text()
                continue
            # Fields after `file` are ignored by OSS, so the policy is judged before reading it.
            grant = self._check_policy(fields)
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > grant.max_bytes:
                    raise OssError(
                        400,
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size.",
                    )
            url = f"oss://{fields['key']}"
            if url in self.files and fields.get("x-oss-forbid-overwrite", "").lower() == "true":
                raise OssError(409, "FileAlreadyExists", "The object you specified already exists.")
            self.files[url] = StoredUpload(
                key=fields["key"],
                data=bytes(data),
                model=grant.model,
                time=self._context.clock(),
                content_type=fields.get("x-oss-content-type"),
                account=grant.account,
            )
            status = fields.get("success_action_status", "204")
            return web.Response(status=int(status) if status in ("200", "201", "204") else 204)
        raise OssError(400, "InvalidArgument", "The multipart form has no file field.")

    def _check_policy(self, fields: dict[str, str]) -> _Policy:
        if fields.get("OSSAccessKeyId") != OSS_ACCESS_KEY_ID:
            raise OssError(
                403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist."
            )
        grant = self._policies.get(fields.get("policy", ""))
        if grant is None:
            raise OssError(403, "AccessDenied", "Invalid according to Policy: Policy is not valid.")
        if not hmac.compare_digest(fields.get("Signature", ""), grant.signature):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self._context.clock() > grant.expires_at:
            raise OssError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = fields.get("key", "")
        if not key.startswith(grant.upload_dir + "/") or key == grant.upload_dir + "/":
            raise OssError(
                403,
                "AccessDenied",
                f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", '
                f'"{grant.upload_dir}"]',
            )
        return grant
