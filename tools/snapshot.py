"""Build or check the reference snapshot that ``lab.restore()`` restores from.

    python tools/snapshot.py --write-snapshot   # record the package's modules as the reference
    python tools/snapshot.py --check            # exit 1 when the snapshot is stale

``python3 workshop.py regen`` writes it too, after re-running the notebooks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workshop_app.lab.paths import REPO_ROOT
from workshop_app.lab.reference import (
    SNAPSHOT_PATH,
    changed_modules,
    snapshot_is_current,
    write_snapshot,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/snapshot.py", description=__doc__)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write-snapshot", action="store_true", help="record the current modules")
    action.add_argument("--check", action="store_true", help="exit 1 if the snapshot is stale")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_snapshot:
        print(f"Wrote {write_snapshot(args.root)}")
        return 0
    if args.check:
        if snapshot_is_current(args.root):
            print("The reference snapshot is current.")
            return 0
        changes = changed_modules(args.root)
        if changes.error:
            print(changes.error, file=sys.stderr)
        else:
            print(
                f"{args.root / SNAPSHOT_PATH} is stale. Rebuild it with "
                f"`python tools/snapshot.py --write-snapshot`.\n{changes!r}",
                file=sys.stderr,
            )
        return 1
    print(repr(changed_modules(args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
