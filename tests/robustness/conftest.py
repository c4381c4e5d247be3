"""Report how much the fuzzers really tried: a count, per operation and status."""

from __future__ import annotations

import pytest
from robustness_helpers import fuzz_summary


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = fuzz_summary()
    if lines:
        terminalreporter.section("schemathesis")
        for line in lines:
            terminalreporter.write_line(line)
