"""``python3 -m calma ARGS...`` runs the calma command line with ARGS."""
from __future__ import annotations

import os
import sys

from ._binary import find_calma
from .errors import CalmaError


def main() -> None:
    """Replace this process with calma, so exit codes and signals are calma's."""
    try:
        exe = find_calma()
    except CalmaError as e:
        print(f"calma: {e.message}", file=sys.stderr)
        sys.exit(e.exit_code)
    os.execv(exe, ["calma", *sys.argv[1:]])


if __name__ == "__main__":
    main()
