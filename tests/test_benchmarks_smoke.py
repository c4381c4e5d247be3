"""The benchmark suite keeps running: its in-process part, in tiny mode, writes well-formed JSON.

Only the shape of the results is checked, never a number: timings belong to the
machine and the moment (benchmarks/README.md). The benchmarks themselves are not
tests; ``python3 workshop.py bench`` runs them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
INPROCESS_CASES = {
    "raw",
    "bare",
    "request_id",
    "access_log",
    "rate_limit",
    "pure_three",
    "base_http_three",
    "full_app",
    "full_app_queued_log",
    "read_statements",
    "read_service",
    "read_bare",
    "read_stack",
    "write_statements",
    "write_service",
    "write_stack",
}
SUMMARY_KEYS = {"median", "q1", "q3", "min", "max"}


def load(name: str) -> ModuleType:
    """Import a module of benchmarks/ (a folder of scripts, not a package) under its own name."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    output = tmp_path_factory.mktemp("bench") / "results.json"
    command = [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "inprocess"]
    done = subprocess.run(
        [*command, "--output", str(output)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(output.read_text()), done.stdout


def assert_summary(summary: dict) -> None:
    assert set(summary) == SUMMARY_KEYS
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in summary.values())
    assert summary["min"] <= summary["q1"] <= summary["median"] <= summary["q3"] <= summary["max"]


def test_quick_run_describes_the_machine_and_the_options(quick_run):
    results, _ = quick_run
    assert results["schema_version"] == 1
    assert {"cpu", "cores", "os", "python", "versions"} <= set(results["machine"])
    assert set(results["machine"]["versions"]) >= {"fastapi", "starlette", "uvicorn"}
    assert results["options"]["quick"] is True
    assert results["options"]["phases"] == ["inprocess"]
    assert results["duration_s"] > 0


def test_quick_run_has_every_in_process_case_with_samples_and_ratios(quick_run):
    results, _ = quick_run
    cases = {case["id"]: case for case in results["cases"]}
    assert set(cases) == {f"inprocess.{name}" for name in INPROCESS_CASES}
    for case in cases.values():
        assert case["unit"] == "µs/request"
        assert len(case["samples"]) == results["options"]["repetitions"] == 1
        assert_summary(case["summary"])
        assert_summary(case["details"]["cpu_us"])
        if case["baseline"] is None:
            assert case["ratio"] is None
        else:
            assert case["baseline"] in cases
            assert_summary(case["ratio"])
            assert_summary(case["details"]["cpu_ratio"])
    assert_summary(cases["inprocess.write_stack"]["details"]["service_ratio"])


def test_quick_run_reports_the_in_process_targets(quick_run):
    results, _ = quick_run
    targets = {target["case"]: target for target in results["targets"]}
    assert set(targets) == {
        "inprocess.full_app",
        "inprocess.base_http_three",
        "inprocess.read_stack",
    }
    for target in targets.values():
        assert isinstance(target["met"], bool)
        assert target["comparison"] in {"<=", ">"}
        assert target["measured"] == next(
            c["ratio"]["median"] for c in results["cases"] if c["id"] == target["case"]
        )


def test_quick_run_prints_the_table(quick_run):
    results, stdout = quick_run
    assert "In-process (httpx ASGITransport)" in stdout
    for case in results["cases"]:
        assert case["label"] in stdout


def test_publish_fills_only_the_marked_readme_block(quick_run, tmp_path):
    report = load("report")
    results, _ = quick_run
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{report.BEGIN}\nold table\n{report.END}\n\nafter\n")
    results_md = tmp_path / "results.md"

    report.publish(results, readme=readme, results_md=results_md)

    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "old table" not in text
    assert results["machine"]["cpu"] in text and results["machine"]["python"] in text
    assert "full app vs bare FastAPI" in text
    assert "## In-process" in results_md.read_text()


async def _tiny_http_server(chunked: bool) -> asyncio.Server:
    """Answers every request on a keep-alive connection, with Content-Length or chunked."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")),
                0,
            )  # fmt: skip
            await reader.readexactly(length)
            if chunked:
                writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n")
                writer.write(b'3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n')
            else:
                writer.write(b'HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\n{"a":1}')
            await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.parametrize("chunked", [False, True])
def test_load_generator_reads_whole_responses_on_keep_alive_connections(chunked):
    loadgen = load("loadgen")

    async def scenario() -> dict:
        server = await _tiny_http_server(chunked)
        port = server.sockets[0].getsockname()[1]
        args = loadgen.parse_args(
            [f"http://127.0.0.1:{port}/x", "--concurrency", "2", "--duration", "0.2",
             "--warmup", "0", "--json", '{"n": "{n}"}', "--expect", "201"]
        )  # fmt: skip
        async with server:
            return await loadgen.run(args)

    result = asyncio.run(scenario())

    assert result["requests"] > 0 and result["unexpected_statuses"] == {}
    assert result["rps"] > 0 and 0 < result["p50_s"] <= result["p99_s"]


@pytest.mark.anyio
async def test_base_http_twins_behave_like_the_app_middleware(client_for, caplog):
    """Same headers, same log line, same 429: the comparison measures machinery, not features."""
    inprocess = load("inprocess")
    seen = {}
    for name, build in (("pure", inprocess.pure_stack), ("base", inprocess.base_http_stack)):
        app = build()
        app.user_middleware[-1].kwargs["requests"] = 1  # the rate limiter is added first
        caplog.clear()
        with caplog.at_level("INFO", logger="workshop_app.access"):
            async with client_for(app) as client:
                ok = await client.get("/health/live", headers={"X-Request-ID": "given-id"})
                limited = await client.get("/health/live")
        lines = [r.fields for r in caplog.records if r.name == "workshop_app.access"]
        seen[name] = {
            "headers": sorted(h for h in ok.headers if h.startswith(("x-request", "ratelimit"))),
            "echoed": ok.headers["x-request-id"],
            "limited": (limited.status_code, limited.json()["error"]["code"]),
            "limited_id": limited.json()["error"]["request_id"] == limited.headers["x-request-id"],
            "log": [
                (f["status"], f["request_id"] == r.headers["x-request-id"], sorted(f))
                for f, r in zip(lines, (ok, limited), strict=True)
            ],
        }
    assert seen["base"] == seen["pure"]
    assert seen["pure"]["echoed"] == "given-id"
    assert seen["pure"]["limited"] == (429, "RATE_LIMITED")
    assert [(status, same_id) for status, same_id, _ in seen["pure"]["log"]] == [
        (200, True),
        (429, True),
    ]
