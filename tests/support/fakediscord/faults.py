"""Fault injection for the fake's REST API: fail the next N matching requests, or answer slowly.

Routes are matched by method and a regular expression on the API path (without `/api/v10`),
e.g. `faults.fail("POST", r"/channels/\\d+/messages", status=500, times=2)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ERRORS: dict[int, tuple[int, str]] = {
    400: (50035, "Invalid Form Body"),
    403: (50001, "Missing Access"),
    404: (10003, "Unknown Channel"),
    429: (0, "You are being rate limited."),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
}


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern[str]
    status: int | None  # None: only a delay
    times: int | None  # None: every time
    delay: float
    body: dict[str, Any] | None

    def matches(self, method: str, path: str) -> bool:
        return self.method in (method, "*") and bool(self.pattern.fullmatch(path))


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    status: int | None
    delay: float
    body: dict[str, Any] | None


def error_body(status: int, message: str | None = None, code: int | None = None) -> dict[str, Any]:
    known_code, known_message = _ERRORS.get(status, (0, f"HTTP {status}"))
    return {"message": message or known_message, "code": known_code if code is None else code}


class Faults:
    def __init__(self) -> None:
        self._rules: list[_Rule] = []

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int | None = 1,
        body: dict[str, Any] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` matching requests (None: all) with `status` (Discord's body)."""
        self._rules.append(_Rule(method, re.compile(path), status, times, delay, body))

    def delay(self, method: str, path: str, seconds: float, *, times: int | None = None) -> None:
        """Answer matching requests after `seconds` (then normally)."""
        self._rules.append(_Rule(method, re.compile(path), None, times, seconds, None))

    def clear(self) -> None:
        self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (using up one of its times)."""
        delay, status, body = 0.0, None, None
        for rule in list(self._rules):
            if not rule.matches(method, path):
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
            delay += rule.delay
            if rule.status is not None and status is None:
                status = rule.status
                body = rule.body or error_body(rule.status)
        if status is None and delay == 0.0:
            return None
        return Fault(status, delay, body)
