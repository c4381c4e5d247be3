"""Where the workshop's folders are.

Found from the installed package rather than the working directory: the Jupyter kernel runs with
the notebook's folder as its working directory, pytest with the repository root, so a relative
path would mean different things in each. The package is installed editable, so its parent is the
repository.
"""

from __future__ import annotations

from pathlib import Path

import workshop_app

REPO_ROOT = Path(workshop_app.__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
APP_DIR = REPO_ROOT / "workshop_app"
