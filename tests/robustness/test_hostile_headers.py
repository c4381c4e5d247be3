"""Hostile headers, in bulk, through the whole app: what a client sends is not what we echo or log.

* A request id that is huge, holds CR/LF or control characters, or is not ASCII is
  replaced by a fresh one: it never reaches a response (header or body) or a log line as
  given, on every path: success, 401, 404, 405, 429 and 500.
* A hostile credential is a 401, never a 500, and is never echoed or logged either.
* X-Forwarded-For (and its cousins) cannot buy a client a fresh rate-limit bucket unless
  the app is configured to trust its proxy, and then only the proxy's own entry counts.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from robustness_helpers import (
    AUTH,
    GENERATED_REQUEST_ID,
    VALID_REQUEST_ID,
    assert_envelope,
    build_app,
    bulk,
    capture_every_log,
    sync_client,
)

from workshop_lab import app_client

pytestmark = pytest.mark.usefixtures("clean_env")


# Pieces a hostile header is made of: line breaks (header and log-line injection),
# control and escape characters, non-ASCII in several encodings, JSON and header syntax.
NASTY = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\nSet-Cookie: session=stolen",
    b"\x00",
    b"\x07",
    b"\x1b[2J",
    b"\t",
    b" ",
    b"\x7f",
    "\u00e9".encode(),
    "\u2028".encode(),
    "\U0001f600".encode(),
    "\u00e9".encode("latin-1"),
    b"\xff\xfe",
    b'"',
    b"\\",
    b'{"request_id": "x"}',
    b"%0d%0a",
    b",",
    b";",
    b"/",
]
VALID_CHARS = "abcXYZ019._-"
piece = (
    st.sampled_from(NASTY)
    | st.binary(min_size=1, max_size=6)
    | st.text(alphabet=VALID_CHARS, min_size=1, max_size=12).map(str.encode)
)
# Each value carries a marker that appears nowhere else, so "the value reached the log"
# is a plain substring search that cannot match by accident.
marker = st.from_regex(r"zq[0-9a-f]{10}", fullmatch=True)


@st.composite
def hostile_values(draw: st.DrawFn) -> tuple[bytes, str]:
    tag = draw(marker)
    before = b"".join(draw(st.lists(piece, max_size=4)))
    after = b"".join(draw(st.lists(piece, max_size=4)))
    padding = draw(st.sampled_from([b"", b"x" * 60, b"y" * 5_000, b"z" * 100_000]))
    return before + tag.encode() + after + padding, tag


def kept_as_is(value: bytes) -> bool:
    """The request-id contract: 1..64 characters of [A-Za-z0-9._-], else replaced."""
    return VALID_REQUEST_ID.fullmatch(value.decode("latin-1")) is not None


def crashing_app(**overrides: object):
    app = build_app(**overrides)

    @app.get("/crash/{anything}")
    async def crash(anything: str) -> dict:
        raise RuntimeError("boom")

    return app


def test_hostile_request_ids_are_replaced_everywhere_and_never_logged() -> None:
    checked = {"kept": 0, "replaced": 0}
    with (
        sync_client(crashing_app()) as client,
        sync_client(build_app(rate_limit_enabled=True, rate_limit_requests=1)) as limited,
        capture_every_log() as logs,
    ):
        limited.request("GET", "/me", headers=AUTH)  # spends the only token: 429s from now

        @bulk(60)
        @given(hostile_values())
        def check(sample: tuple[bytes, str]) -> None:
            value, tag = sample
            logs.clear()
            header = [(b"X-Request-ID", value)]
            sent = [
                (client, "GET", "/me", 200, AUTH),
                (client, "GET", "/me", 401, {}),
                (client, "GET", "/no/such/route", 404, AUTH),
                (client, "DELETE", "/me", 405, AUTH),
                (client, "GET", "/crash/now", 500, AUTH),
                (limited, "GET", "/me", 429, AUTH),
            ]
            ids = set()
            for target, method, url, status, auth in sent:
                response = target.request(method, url, headers=[*header, *auth.items()])
                assert response.status_code == status, (method, url, response.status_code)
                [echoed] = response.headers.get_list("X-Request-ID")
                if kept_as_is(value):
                    assert echoed == value.decode()
                else:
                    assert GENERATED_REQUEST_ID.fullmatch(echoed), echoed
                    assert tag not in json.dumps(dict(response.headers)) + response.text
                if status >= 400:
                    assert assert_envelope(response)["request_id"] == echoed
                ids.add(echoed)
            assert len(ids) == (1 if kept_as_is(value) else len(sent))

            logged_ids = {getattr(r, "fields", {}).get("request_id") for r in logs.records}
            assert logged_ids - {None} <= ids
            for line in (logs.render(r)[0] for r in logs.records):
                assert "\n" not in line and "\r" not in line, line[:200]
            if not kept_as_is(value):
                assert tag not in logs.text()
            checked["kept" if kept_as_is(value) else "replaced"] += 1

        check()
    # The strategy must really produce both kinds, or half the contract went untested.
    assert checked["kept"] and checked["replaced"], checked


def test_hostile_credentials_are_a_401_never_echoed_nor_logged() -> None:
    with sync_client(build_app()) as client, capture_every_log() as logs:

        @bulk(60)
        @given(hostile_values(), st.sampled_from(["X-API-Key", "Authorization", "Bearer"]))
        def check(sample: tuple[bytes, str], where: str) -> None:
            value, tag = sample
            logs.clear()
            if where == "Bearer":
                headers = [(b"Authorization", b"Bearer " + value)]
            else:
                headers = [(where.encode(), value)]
            response = client.request("GET", "/me", headers=headers)
            assert response.status_code == 401
            error = assert_envelope(response)
            assert error["code"] == "UNAUTHORIZED"
            assert response.headers["WWW-Authenticate"]
            assert tag not in json.dumps(dict(response.headers)) + response.text
            assert tag not in logs.text()

        check()


def test_a_line_break_in_the_path_cannot_forge_a_log_line() -> None:
    """The access log's message and the 500 log quote the path; an encoded CR/LF in it
    must not start a new line under any formatter, not only under the app's JSON one."""
    forged = "/x%0D%0A2026-01-01 INFO forged%0A%1B[2J"
    with sync_client(crashing_app()) as client, capture_every_log() as logs:
        assert client.request("GET", forged, headers=AUTH).status_code == 404
        assert client.request("GET", "/crash" + forged, headers=AUTH).status_code == 500
    messages = [record.getMessage() for record in logs.records]
    assert len(messages) >= 3  # two access lines and the unhandled error
    forged_lines = [m for m in messages if any(ch in m for ch in "\r\n\x1b")]
    assert not forged_lines, forged_lines


# --- X-Forwarded-For and the rate limit --------------------------------------------------

SPOOF_HEADERS = ["X-Forwarded-For", "X-Real-IP", "Forwarded", "True-Client-IP"]
ip = st.ip_addresses().map(str)
spoofed_hop = (
    ip
    | st.sampled_from(["", " ", "unknown", ",", "1.2.3.4, 5.6.7.8"])
    | piece.map(lambda value: value.decode("latin-1"))
)


async def admitted(app, requests: list[list[tuple[bytes, bytes]]]) -> list[int]:
    """Fire all requests at once through the full app; return their statuses."""
    async with app_client(app) as client:
        responses = await asyncio.gather(*(client.get("/me", headers=h) for h in requests))
    for response in responses:
        if response.status_code == 429:
            assert_envelope(response)
            assert int(response.headers["Retry-After"]) >= 1
    return [response.status_code for response in responses]


def limited_app(limit: int, *, trust: bool):
    return build_app(
        rate_limit_enabled=True,
        rate_limit_requests=limit,
        rate_limit_window_seconds=3600,
        trust_forwarded_for=trust,
    )


def header_lines(name: str, value: str) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode(), value.encode("latin-1", "replace")),
        *[(k.encode(), v.encode()) for k, v in AUTH.items()],
    ]


@bulk(25)
@given(
    limit=st.integers(1, 5),
    spoofs=st.lists(
        st.tuples(st.sampled_from(SPOOF_HEADERS), spoofed_hop), min_size=6, max_size=30
    ),
)
def test_spoofed_forwarding_headers_do_not_escape_the_limit(limit: int, spoofs: list) -> None:
    requests = [header_lines(name, value) for name, value in spoofs]
    statuses = asyncio.run(admitted(limited_app(limit, trust=False), requests))
    assert statuses.count(200) == min(limit, len(requests))
    assert set(statuses) <= {200, 429}


@bulk(25)
@given(
    limit=st.integers(1, 5),
    spoofed=st.lists(spoofed_hop, min_size=6, max_size=30),
    proxy_saw=ip,
)
def test_behind_a_trusted_proxy_only_the_proxys_entry_counts(
    limit: int, spoofed: list[str], proxy_saw: str
) -> None:
    """The client controls everything before the last entry; the proxy appends the last."""
    requests = [header_lines("X-Forwarded-For", f"{hop}, {proxy_saw}") for hop in spoofed]
    statuses = asyncio.run(admitted(limited_app(limit, trust=True), requests))
    assert statuses.count(200) == min(limit, len(requests))


@pytest.mark.anyio
async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket() -> None:
    """The other side of the same switch: trusted, two real clients do not share a bucket."""
    requests = [header_lines("X-Forwarded-For", f"203.0.113.{i % 3}") for i in range(9)]
    async with app_client(limited_app(2, trust=True)) as client:
        responses = await asyncio.gather(*(client.get("/me", headers=h) for h in requests))
    assert [r.status_code for r in responses].count(200) == 6  # 3 clients x 2 tokens


@pytest.mark.anyio
async def test_without_a_trusted_proxy_forwarded_for_is_ignored_even_when_plausible() -> None:
    requests = [header_lines("X-Forwarded-For", f"203.0.113.{i}") for i in range(9)]
    async with app_client(limited_app(2, trust=False)) as client:
        responses = await asyncio.gather(*(client.get("/me", headers=h) for h in requests))
    assert [r.status_code for r in responses].count(200) == 2
