"""What every route shares on the wire: the answer envelopes, the error answers, the request keys.

An error found deep in a handler is raised as an `Answer` and rendered by the app's middleware:
API errors as DashScope's JSON body, OSS errors as Alibaba's XML document.
"""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

API_PREFIX = "/api/v1"
OSS_PATH = "/oss"
RESULTS_PATH = "/results"

# Filled by the middleware before a handler runs: the parsed JSON body (None when absent or not
# JSON) and the caller's account (set only once the API key is accepted).
JSON_KEY = web.RequestKey("sim_json", object)
ACCOUNT_KEY = web.RequestKey("sim_account", str)


class Answer(Exception):
    """An error answer raised from deep in a handler and rendered by the middleware."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        """Return the answer to send."""
        raise NotImplementedError


class ApiError(Answer):
    """An API error, answered as DashScope's JSON body."""

    def response(self) -> web.Response:
        return error(self.status, self.code, self.message)


class OssError(Answer):
    """An OSS error (uploads and result downloads), answered as Alibaba's XML document."""

    def response(self) -> web.Response:
        request_id = uuid.uuid4().hex[:24].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
            f"  <Code>{escape(self.code)}</Code>\n  <Message>{escape(self.message)}</Message>\n"
            f"  <RequestId>{request_id}</RequestId>\n  <HostId>simulator</HostId>\n</Error>\n"
        )
        return web.Response(status=self.status, text=body, content_type="application/xml")


def error(status: int, code: str, message: str) -> web.Response:
    """Return DashScope's JSON error answer."""
    return web.json_response(
        {"request_id": str(uuid.uuid4()), "code": code, "message": message}, status=status
    )


def ok(payload: dict[str, Any]) -> web.Response:
    """Return `payload` as a successful answer with a fresh request id."""
    return web.json_response({**payload, "request_id": str(uuid.uuid4())})


def bad(message: str) -> ApiError:
    """Return a 400 InvalidParameter answer."""
    return ApiError(400, "InvalidParameter", message)


def inspection(message: str) -> ApiError:
    """Return a 400 answer for an input that fails the data inspection."""
    return ApiError(400, "InvalidParameter.DataInspection", message)


def throttled(message: str = "Requests rate limit exceeded, please try again later.") -> ApiError:
    """Return a 429 rate-limit answer."""
    return ApiError(429, "Throttling.RateQuota", message)
