"""Finding the calma executable the package drives."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import CalmaError


def find_calma() -> str:
    """Return the path of the calma executable.

    Tried in order: the ``CALMA_BIN`` environment variable, ``build/calma`` of
    the source tree this package sits in (``python/calma`` beside ``build/``),
    then ``calma`` on ``PATH``. Raises :class:`CalmaError` naming every place
    tried when none holds an executable.
    """
    tried = []
    env = os.environ.get("CALMA_BIN")
    if env:
        if os.access(env, os.X_OK) and os.path.isfile(env):
            return env
        tried.append(f"CALMA_BIN={env} (not an executable file)")
    else:
        tried.append("CALMA_BIN (not set)")
    tree = Path(__file__).resolve().parent.parent.parent / "build" / "calma"
    if os.access(tree, os.X_OK) and tree.is_file():
        return str(tree)
    tried.append(f"{tree} (absent)")
    on_path = shutil.which("calma")
    if on_path:
        return on_path
    tried.append("calma on PATH (not found)")
    raise CalmaError(
        "cannot find the calma executable; tried " + "; ".join(tried)
        + ". Build it with scripts/setup.sh or set CALMA_BIN",
        exit_code=2,
    )
