"""Build quiz bank files for the quiz tests.

Banks are written as TOML text (not built as models) so the tests exercise the same path as a
hand-written bank: file, parser, validation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO_APP = "workshop_lab.demo:create_demo_app"

VALID: dict[str, dict[str, Any]] = {
    "single": {
        "id": "pick_one",
        "kind": "single",
        "prompt": "Which method reads a resource without changing it?",
        "options": ["POST", "GET", "DELETE"],
        "answer": 2,
        "explanation": "GET is safe: it must not change server state.",
    },
    "multiple": {
        "id": "pick_many",
        "kind": "multiple",
        "prompt": "Which status codes are client errors?",
        "options": ["404 Not Found", "500 Internal Server Error", "422 Unprocessable", "201"],
        "answer": [1, 3],
        "explanation": "4xx codes blame the request; 5xx blame the server.",
    },
    "short": {
        "id": "type_it",
        "kind": "short",
        "prompt": "Which status code means the resource was created?",
        "answer": ["201"],
        "normalize": "number",
        "explanation": "201 Created, usually with a Location header.",
    },
    "predict": {
        "id": "guess_it",
        "kind": "predict",
        "prompt": "What does the demo app answer?",
        "app": DEMO_APP,
        "request": {"method": "GET", "path": "/hello"},
        "predict": "status",
        "answer": 200,
        "explanation": "The route exists, so the app answers 200 OK.",
    },
}


def toml_value(value: Any) -> str:
    """TOML for the simple values banks use (JSON string escapes are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def question(template: str, /, **changes: Any) -> dict[str, Any]:
    """A valid question of kind `template` with `changes` applied (None removes the key)."""
    data = {**VALID[template], **changes}
    return {key: value for key, value in data.items() if value is not None}


def bank_text(questions: list[dict[str, Any]], **top: Any) -> str:
    top = {"title": "Test bank", **top}
    lines = [f"{key} = {toml_value(value)}" for key, value in top.items() if value is not None]
    for entry in questions:
        lines += ["", "[[questions]]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def write_bank(
    directory: Path, questions: list[dict[str, Any]], name: str = "test_bank", **top: Any
) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(bank_text(questions, **top), encoding="utf-8")
    return path
