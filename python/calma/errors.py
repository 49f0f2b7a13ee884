"""The exceptions calma raises."""
from __future__ import annotations


class CalmaError(Exception):
    """calma refused the request (bad input, bad plan, a missing file).

    ``message`` is calma's own message; ``exit_code`` is the calma process's
    exit status (2 for bad usage or input). Trials that fail (``timeout``,
    ``crashed``, ...) are never exceptions: they are results with a status.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
