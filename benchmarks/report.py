"""Turn a results JSON into tables: plain text for the terminal, Markdown for the docs.

    python benchmarks/report.py                       # print benchmarks/results/latest.json
    python benchmarks/report.py RESULTS.json --publish

``--publish`` writes the full tables to ``benchmarks/results.md`` and the headline
table into README.md, between its ``benchmarks:begin``/``benchmarks:end`` markers;
both say which machine produced the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LATEST = HERE / "results" / "latest.json"
RESULTS_MD = HERE / "results.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"

Table = tuple[list[str], list[list[str]]]


def _ratio(case: dict, key: str = "ratio") -> str:
    ratio = case.get(key)
    if not ratio:
        return ""
    if ratio["min"] == ratio["max"]:
        return f"{ratio['median']:.2f}x"
    return f"{ratio['median']:.2f}x ({ratio['q1']:.2f}-{ratio['q3']:.2f})"


def _target(case: dict) -> str:
    target = case.get("target")
    if not target:
        return ""
    verdict = "met" if target["met"] else target["verdict"].upper()
    text = f"{target['comparison']} {target['limit']:g}{target['unit']}: {verdict}"
    check = target.get("cpu_cross_check")
    if check and check["met"] != target["met"] and target["verdict"] != "failed":
        other = "met" if check["met"] else "missed"
        text += f" (CPU time {check['measured']:.2f}{target['unit']}: {other})"
    return text


def _spread(summary: dict, fmt: str) -> str:
    return f"{summary['q1']:{fmt}}-{summary['q3']:{fmt}}"


def machine_line(results: dict) -> str:
    m = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in m["versions"].items())
    load = "/".join(f"{value:.1f}" for value in m["load_average_start"] or [])
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}; {versions}. "
        f"Run {results['generated_at'][:16].replace('T', ' ')} UTC, load average at start "
        f"{load or 'unknown'}, {results['duration_s']:.0f} s in all."
    )


def _by_phase(results: dict, phase: str) -> list[dict]:
    return [case for case in results["cases"] if case["phase"] == phase]


def _names(results: dict) -> dict[str, str]:
    return {case["id"]: case["label"] for case in results["cases"]}


def inprocess_table(results: dict) -> Table:
    names = _names(results)
    header = [
        "case",
        "µs/request (median)",
        "IQR",
        "x baseline, wall",
        "x baseline, CPU",
        "vs",
        "target",
    ]
    rows = []
    for case in _by_phase(results, "inprocess"):
        rows.append([
            case["label"],
            f"{case['summary']['median']:.0f}",
            _spread(case["summary"], ".0f"),
            _ratio(case),
            _ratio(case["details"], "cpu_ratio"),
            names.get(case["baseline"], "") if case["baseline"] else "",
            _target(case),
        ])  # fmt: skip
    return header, rows


def http_table(results: dict) -> Table:
    names = _names(results)
    header = [
        "case",
        "req/s (median)",
        "IQR",
        "p50 ms",
        "p99 ms",
        "cost x baseline",
        "vs",
        "client CPU",
    ]
    rows = []
    for case in _by_phase(results, "http"):
        d = case["details"]
        rows.append([
            case["label"],
            f"{case['summary']['median']:.0f}",
            _spread(case["summary"], ".0f"),
            f"{d['p50_ms']['median']:.1f}",
            f"{d['p99_ms']['median']:.1f}",
            _ratio(case),
            names.get(case["baseline"], "") if case["baseline"] else "",
            f"{d['client_cpu_share']['median']:.0%}",
        ])  # fmt: skip
    return header, rows


def scale_table(results: dict) -> Table:
    header = ["case", "median", "IQR", "p99 ms", "ratio", "vs"]
    names = _names(results)
    rows = []
    for case in _by_phase(results, "scale"):
        s, d = case["summary"], case["details"]
        if case["unit"] == "s":
            rows.append([case["label"], f"{s['median']:.2f} s", _spread(s, ".2f"), "", "", ""])
            continue
        kind = d.get("ratio_kind")
        ratio = f"{_ratio(case)} {kind}" if kind else ""
        rows.append([
            case["label"],
            f"{s['median']:.0f} req/s",
            _spread(s, ".0f"),
            f"{d['p99_ms']['median']:.1f}",
            ratio,
            names.get(case["baseline"], "") if case["baseline"] else "",
        ])  # fmt: skip
    return header, rows


def startup_table(results: dict) -> Table:
    header = ["case", "seconds (median)", "min-max", "runs", "target", "note"]
    rows = []
    for phase in ("startup", "notebooks", "suite"):
        for case in _by_phase(results, phase):
            s = case["summary"]
            rows.append([
                case["label"],
                f"{s['median']:.2f}",
                f"{s['min']:.2f}-{s['max']:.2f}",
                str(len(case["samples"])),
                _target(case),
                case["details"].get("note", ""),
            ])  # fmt: skip
    return header, rows


def headline_table(results: dict) -> Table:
    """The few numbers the README shows; the rest are in benchmarks/results.md."""
    cases = {case["id"]: case for case in results["cases"]}
    rows = []

    def add(label: str, case_id: str, measured: Callable[[dict], str]) -> None:
        if case_id in cases:
            case = cases[case_id]
            rows.append([label, measured(case), _target(case)])

    add("full app vs bare FastAPI (in-process GET, latency)", "inprocess.full_app", _ratio)
    add("3 middleware as BaseHTTPMiddleware vs pure ASGI", "inprocess.base_http_three", _ratio)
    add("read by id through the stack vs bare FastAPI + SQLModel", "inprocess.read_stack",
        _ratio)  # fmt: skip
    add("write through the stack vs the statements alone", "inprocess.write_stack", _ratio)
    add("write through the stack vs UserService.create alone", "inprocess.write_stack",
        lambda c: _ratio(c["details"], "service_ratio"))  # fmt: skip

    def throughput(case: dict) -> str:
        p99 = case["details"]["p99_ms"]["median"]
        return f"{case['summary']['median']:.0f} req/s, p99 {p99:.0f} ms"

    for case_id in ("http.bare", "http.full", "http.read", "http.write"):
        if case_id in cases:
            add(f"uvicorn: {cases[case_id]['label']}", case_id, throughput)
    add("Valkey rate-limit store vs in-memory (uvicorn, cost per request)", "scale.valkey",
        _ratio)  # fmt: skip
    if "scale.pg_2" in cases:
        add(f"PostgreSQL, 2 workers vs 1 (throughput, {cases['scale.pg_2']['details']['cores']} "
            "cores)", "scale.pg_2", _ratio)  # fmt: skip
    for server in ("postgres", "valkey"):
        add(f"start an embedded {server} server", f"scale.start_{server}",
            lambda c: f"{c['summary']['median']:.2f} s")  # fmt: skip
    add("import workshop_app + create_app()", "startup.import_create",
        lambda c: f"{c['summary']['median']:.2f} s")  # fmt: skip
    notebooks = _by_phase(results, "notebooks")
    if notebooks:
        slowest = max(notebooks, key=lambda c: c["summary"]["median"])
        rows.append([
            f"slowest of {len(notebooks)} notebooks, top to bottom",
            f"{slowest['label']}: {slowest['summary']['median']:.1f} s",
            _target(slowest),
        ])  # fmt: skip
        failed = [case["label"] for case in notebooks if case["details"].get("error")]
        if failed:
            rows.append(["notebooks that raised an error", ", ".join(failed), "FAILED"])
    add("whole test suite (python -m pytest -q)", "suite.pytest",
        lambda c: f"{c['summary']['median']:.0f} s ({c['details']['note']})")  # fmt: skip
    return ["measure", "median (interquartile range)", "target"], rows


def text(table: Table) -> str:
    header, rows = table
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown(table: Table) -> str:
    header, rows = table
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


SECTIONS = (
    ("In-process (httpx ASGITransport)", inprocess_table),
    ("Over HTTP (uvicorn, 1 worker, loopback)", http_table),
    ("Scaling out (Valkey store, PostgreSQL workers, embedded servers)", scale_table),
    ("Start-up and feedback loop", startup_table),
)


def render_text(results: dict) -> str:
    parts = [f"Machine: {machine_line(results)}"]
    for title, build in SECTIONS:
        table = build(results)
        if table[1]:
            parts.append(f"{title}\n{text(table)}")
    offenders = _offenders(results)
    if offenders:
        parts.append(f"Import time by package (python -X importtime, self time)\n{offenders}")
    return "\n\n".join(parts)


def _offenders(results: dict) -> str:
    for case in _by_phase(results, "startup"):
        rows = case["details"].get("import_offenders")
        if rows:
            table = (
                ["package", "seconds", "modules"],
                [[r["package"], f"{r['seconds']:.3f}", str(r["modules"])] for r in rows],
            )
            return text(table)
    return ""


def _command(results: dict) -> str:
    """The command that produced the results, as a user would type it."""
    arguments = str(results.get("command", "")).split()[1:]  # after benchmarks/run.py
    return " ".join(["python3 workshop.py bench", *arguments])


def render_markdown(results: dict) -> str:
    parts = [
        "# Benchmark results",
        f"Generated by `{_command(results)}`; do not edit by hand. "
        "How to read it: [benchmarks/README.md](README.md).",
        f"**Machine:** {machine_line(results)}",
    ]
    for title, build in SECTIONS:
        table = build(results)
        if table[1]:
            parts.append(f"## {title}\n\n{markdown(table)}")
    offenders = _offenders(results)
    if offenders:
        parts.append(f"## Import time by package\n\n```\n{offenders}\n```")
    return "\n\n".join(parts) + "\n"


def readme_block(results: dict) -> str:
    return (
        f"{BEGIN}\n_Measured on {machine_line(results)}_\n\n{markdown(headline_table(results))}\n\n"
        "All cases, with spreads and CPU-time ratios: "
        "[benchmarks/results.md](benchmarks/results.md).\n"
        f"{END}"
    )


def publish(results: dict, readme: Path = README, results_md: Path = RESULTS_MD) -> None:
    text_now = readme.read_text()
    if BEGIN not in text_now or END not in text_now:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} block to fill")
    before, rest = text_now.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(before + readme_block(results) + after)
    results_md.write_text(render_markdown(results))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=LATEST)
    parser.add_argument("--publish", action="store_true", help="update results.md and README.md")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    print(render_text(results))
    if args.publish:
        publish(results)
        print(f"\nPublished to {RESULTS_MD.relative_to(ROOT)} and README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
