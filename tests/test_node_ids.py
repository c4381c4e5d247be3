"""Every collected test has a node id of its own.

``workshop.py test`` runs pytest-xdist, which schedules tests by node id: two tests sharing
one would run once between them, and the other would vanish from the count without a
word (schemathesis's per-operation tests did, under pytest 9; tests/robustness/conftest.py
gives them their own).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_two_collected_tests_share_a_node_id() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert len(ids) > 1000, collected.stdout[-3000:]
    shared = {node_id: n for node_id, n in Counter(ids).items() if n > 1}
    assert not shared, f"node ids shared by several tests: {shared}"
