"""Show an HTTP response the way an engineer reads one: status, key headers, body.

Jupyter picks the HTML form; plain IPython, nbval and logs get the text form.
Both are built from the same pieces so they never disagree.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

import httpx

# The headers a learner needs to see; the rest are noise in a notebook.
KEY_HEADERS = (
    "content-type",
    "location",
    "allow",
    "retry-after",
    "www-authenticate",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-request-id",
    "x-process-time",
)
MAX_BODY_CHARS = 4000


class TextReport:
    """Displays ``repr(self)``: as text, and in HTML front ends as a <pre> that keeps columns."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = repr(self)
        return {"text/plain": text, "text/html": f"<pre>{html.escape(text)}</pre>"}


def _status_line(response: httpx.Response) -> str:
    return f"{response.http_version} {response.status_code} {response.reason_phrase}"


def _headers(response: httpx.Response, names: Iterable[str] | None) -> list[tuple[str, str]]:
    wanted = KEY_HEADERS if names is None else tuple(name.lower() for name in names)
    return [(name, response.headers[name]) for name in wanted if name in response.headers]


def _body(response: httpx.Response) -> str:
    if not response.content:
        return ""
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.dumps(response.json(), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    text = response.text
    if len(text) > MAX_BODY_CHARS:
        return text[:MAX_BODY_CHARS] + f"\n... ({len(text) - MAX_BODY_CHARS} more characters)"
    return text


def response_text(response: httpx.Response, headers: Iterable[str] | None = None) -> str:
    """Plain-text form: status line, key headers, blank line, pretty body."""
    lines = [_status_line(response)]
    lines += [f"{name}: {value}" for name, value in _headers(response, headers)]
    body = _body(response)
    if body:
        lines += ["", body]
    return "\n".join(lines)


def _status_colour(status: int) -> str:
    if status < 300:
        return "#1a7f37"
    if status < 500:
        return "#9a6700"
    return "#cf222e"


def response_html(response: httpx.Response, headers: Iterable[str] | None = None) -> str:
    """HTML form; the status is given in words as well as colour."""
    colour = _status_colour(response.status_code)
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(name)}</th>"
        f"<td style='text-align:left'><code>{html.escape(value)}</code></td></tr>"
        for name, value in _headers(response, headers)
    )
    body = _body(response)
    parts = [
        "<div class='workshop-response'>",
        f"<div style='font-weight:bold;color:{colour}'>{html.escape(_status_line(response))}</div>",
    ]
    if rows:
        parts.append(f"<table>{rows}</table>")
    if body:
        parts.append(f"<pre>{html.escape(body)}</pre>")
    parts.append("</div>")
    return "".join(parts)


class ResponseView:
    """A displayable wrapper: ``show(response)`` as the last line of a cell."""

    def __init__(self, response: httpx.Response, headers: Iterable[str] | None = None) -> None:
        self.response = response
        self.headers = None if headers is None else tuple(headers)

    def __repr__(self) -> str:
        return response_text(self.response, self.headers)

    def _repr_html_(self) -> str:
        return response_html(self.response, self.headers)


def show(response: httpx.Response, headers: Iterable[str] | None = None) -> ResponseView:
    """Display a response; ``headers`` picks which headers to list (default: the key ones)."""
    return ResponseView(response, headers)
