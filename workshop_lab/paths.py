"""Where the workshop's folders are.

Found from this file rather than the working directory: the Jupyter kernel works in your
workspace, pytest in the repository, so a relative path would mean different things in each.
The toolkit is installed editable, so its parent folder is the repository.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
APP_DIR = REPO_ROOT / "workshop_app"
