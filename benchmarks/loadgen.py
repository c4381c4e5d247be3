"""A small closed-loop HTTP/1.1 load generator: fixed concurrency, fixed duration.

    python benchmarks/loadgen.py http://127.0.0.1:8000/health/live --concurrency 8 --duration 3

``concurrency`` workers each hold one keep-alive connection, send a request, read
the whole response, and send the next, until the time is up. It prints one JSON
object: requests per second, latency percentiles (seconds, from the first byte
sent to the last byte received, so waiting in the server's queue is included),
and the share of a CPU this process used, so a reader can tell when the client,
not the server, was the bottleneck.

It speaks HTTP/1.1 on asyncio streams itself instead of using httpx: on the
2-core machine this was written on, an httpx ``AsyncClient`` spent about 850 µs of
CPU per request, more than the server it measured, and capped the bare app at a
quarter of its throughput; these few lines spend under 100 µs. It runs in its own
process so that server and client never share an event loop or a GIL.

``--json`` is a body template: ``{n}`` becomes a string unique to the run, for
endpoints that refuse duplicates (``POST /users``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import percentile  # noqa: E402  (run as a script: the folder is not a package)


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes) -> int:
        """Send one request, read the whole response, return its status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(head + body)
        response_head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = response_head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get(b"transfer-encoding") == b"chunked":
            await self._read_chunked()
        else:
            await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            await self.close()
        return status

    async def _read_chunked(self) -> None:
        assert self.reader is not None
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await self.reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:  # the last chunk's CRLF ends the (empty) trailer section
                return

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):  # the server may have closed first
                await self.writer.wait_closed()
        self.reader = self.writer = None


def request_builder(args: argparse.Namespace, host_header: str, target: str):
    """A function returning (head, body) for the next request; bodies made unique per call."""
    extra = "".join(f"{name.strip()}: {value.strip()}\r\n" for name, value in args.headers)
    run_id = uuid.uuid4().hex[:12]
    counter = 0

    def build() -> tuple[bytes, bytes]:
        nonlocal counter
        body = b""
        content = ""
        if args.json is not None:
            counter += 1
            body = args.json.replace("{n}", f"{run_id}-{counter}").encode()
            content = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head = f"{args.method} {target} HTTP/1.1\r\nHost: {host_header}\r\n{extra}{content}\r\n"
        return head.encode("latin-1"), body

    return build


async def run(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    if url.scheme != "http" or url.hostname is None:
        raise SystemExit("only http:// URLs with a host are supported")
    port = url.port or 80
    target = url.path or "/"
    if url.query:
        target += f"?{url.query}"
    build = request_builder(args, url.netloc, target)
    connections = [Connection(url.hostname, port) for _ in range(args.concurrency)]
    latencies: list[float] = []
    unexpected: dict[int, int] = {}

    async def worker(connection: Connection, deadline: float, record: bool) -> None:
        while time.perf_counter() < deadline:
            head, body = build()
            started = time.perf_counter()
            status = await asyncio.wait_for(connection.request(head, body), args.timeout)
            elapsed = time.perf_counter() - started
            if not record:
                continue
            if status == args.expect:
                latencies.append(elapsed)
            else:
                unexpected[status] = unexpected.get(status, 0) + 1

    async def phase(seconds: float, record: bool) -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(c, deadline, record) for c in connections))
        return time.perf_counter() - started

    try:
        await phase(args.warmup, record=False)  # opens every connection, warms both sides
        cpu_before = time.process_time()
        elapsed = await phase(args.duration, record=True)
        cpu = time.process_time() - cpu_before
    finally:
        await asyncio.gather(*(c.close() for c in connections))

    latencies.sort()
    return {
        "url": args.url,
        "method": args.method,
        "concurrency": args.concurrency,
        "duration_s": elapsed,
        "requests": len(latencies),
        "unexpected_statuses": {str(k): v for k, v in sorted(unexpected.items())},
        "rps": len(latencies) / elapsed,
        "p50_s": percentile(latencies, 0.50) if latencies else None,
        "p99_s": percentile(latencies, 0.99) if latencies else None,
        "client_cpu_share": cpu / elapsed,
    }


def header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name, value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds run before measuring")
    parser.add_argument("--json", help="request body template; {n} is made unique per request")
    parser.add_argument(
        "--header", dest="headers", type=header, action="append", default=[], help="'Name: value'"
    )
    parser.add_argument("--expect", type=int, default=200, help="the status of a success")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--cpu", type=int, help="run on this CPU only (Linux)")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("concurrency must be >= 1, duration > 0 and warmup >= 0")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
