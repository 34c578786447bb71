"""How a command ends: its exit code, and the one line that says why it did not succeed."""

from __future__ import annotations

import sys

# 0 success; 2 bad input or configuration (one line, nothing sent or written); 1 the work itself
# failed (the provider refused the task, a server could not be reached).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Print `error: message` as one line on stderr and return `code`."""
    print(f"error: {message}", file=sys.stderr)
    return code
