"""Predict questions against real apps: every shipped bank's answers are what the apps do."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from quiz_helpers import question, write_bank

from workshop_lab.quizzes import grade, load_bank, observe
from workshop_lab.quizzes.grading import build_app, run
from workshop_lab.quizzes.models import Predict

# Every shipped bank's predict answers are checked against the app at the notebook's own
# checkpoint, in tests/test_checkpoints.py.


# --- running requests: headers, body, repeat, settings ----------------------------------------

FIXTURE_APP = textwrap.dedent(
    '''
    """An app for the quiz tests: counts requests, echoes bodies, shows its settings."""
    from fastapi import FastAPI, Request, Response


    def create(settings=None):
        app = FastAPI()
        hits = {"count": 0}

        @app.get("/count")
        async def count(response: Response):
            hits["count"] += 1
            response.headers["X-Count"] = str(hits["count"])
            return {"count": hits["count"]}

        @app.post("/echo")
        async def echo(request: Request):
            return {"body": await request.json(), "greeting": request.headers.get("x-greeting")}

        @app.get("/settings")
        async def show_settings():
            return {"type": type(settings).__name__, "name": getattr(settings, "app_name", None)}

        return app
    '''
)
FIXTURE = "quiz_fixture_app:create"


@pytest.fixture
def fixture_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "quiz_fixture_app.py").write_text(FIXTURE_APP, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield FIXTURE
    sys.modules.pop("quiz_fixture_app", None)


def load_predict(tmp_path: Path, **changes: object) -> Predict:
    (entry,) = load_bank(write_bank(tmp_path, [question("predict", **changes)])).questions
    assert isinstance(entry, Predict)
    return entry


def test_repeat_sends_the_request_n_times_to_one_fresh_app(
    tmp_path: Path, fixture_app: str
) -> None:
    entry = load_predict(
        tmp_path,
        app=fixture_app,
        request={"path": "/count"},
        repeat=3,
        predict="json:count",
        answer=3,
    )
    assert observe(entry, run(entry)) == "3"
    assert observe(entry, run(entry)) == "3"  # a new app each run: the same answer every time


def test_headers_and_json_body_are_sent(tmp_path: Path, fixture_app: str) -> None:
    entry = load_predict(
        tmp_path,
        app=fixture_app,
        request={
            "method": "POST",
            "path": "/echo",
            "headers": {"X-Greeting": "hi"},
            "json": {"qty": 2, "tags": ["a"]},
        },
        predict="json:body",
        answer="x",
    )
    response = run(entry)
    assert response.json() == {"body": {"qty": 2, "tags": ["a"]}, "greeting": "hi"}


def test_header_predictions_read_the_real_header(tmp_path: Path, fixture_app: str) -> None:
    entry = load_predict(
        tmp_path,
        app=fixture_app,
        request={"path": "/count"},
        repeat=2,
        predict="header:X-Count",
        answer="2",
    )
    actual = observe(entry, run(entry))
    assert actual == "2"
    assert grade(entry, "2", actual=actual).correct


def test_settings_are_passed_to_the_factory_as_settings(tmp_path: Path, fixture_app: str) -> None:
    entry = load_predict(
        tmp_path,
        app=fixture_app,
        settings={"app_name": "Quiz API", "environment": "test"},
        request={"path": "/settings"},
        predict="json:name",
        answer="Quiz API",
    )
    assert run(entry).json() == {"type": "Settings", "name": "Quiz API"}

    without = load_predict(tmp_path, app=fixture_app, request={"path": "/settings"})
    assert run(without).json() == {"type": "NoneType", "name": None}


def test_a_missing_app_fails_when_run_not_when_loaded(tmp_path: Path) -> None:
    entry = load_predict(tmp_path, app="workshop_lab.no_such_module:create")
    with pytest.raises(ModuleNotFoundError):
        build_app(entry)
