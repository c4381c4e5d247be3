"""Schemathesis under pytest-xdist: a node id per operation, and the counts sent back.

Schemathesis names each operation's test ``test_x[GET /users]``, but under pytest 9 they all
get the function's node id; pytest-xdist schedules by node id, so it would run one operation
per function and drop the rest. The count of generated cases lives in the worker that ran
them: the worker hands it to the controller, whose ``tests/conftest.py`` prints it.
"""

from __future__ import annotations

import pytest
from robustness_helpers import FUZZ_CASES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # every item of the session: this hook is not limited to this folder
        base = getattr(item, "originalname", None)
        if base and item.nodeid.endswith(f"::{base}") and item.name.startswith(f"{base}["):
            operation = item.name[len(base) + 1 : -1]  # "GET /users"
            item._id = item.parent.id.child(base).with_params(operation)  # pytest 9's node id


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)  # set in xdist workers only
    if workeroutput is not None:
        workeroutput["fuzz_cases"] = [[*key, n] for key, n in FUZZ_CASES.items()]
