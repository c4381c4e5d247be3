"""Run a predict question's request against a real app, in-process.

A prediction is checked against what the app really does, not only against what the bank
says: in later notebooks the app is the learner's own code, and the honest answer to "what
does it return?" is to ask it. A fresh app is built for every run, so a question that sends
five requests to hit a rate limit gives the same answer however often it is run.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx

from workshop_lab.quizzes.models import Predict


def build_app(question: Predict) -> Any:
    """Import the factory named by `question.app` and call it.

    Imported at run time, not when the bank loads: the module is the learner's current code
    (notebooks rewrite and reload it), and loading a bank should not import an app at all.
    """
    module_name, _, attribute = question.app.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    if question.settings is None:
        return factory()
    from workshop_app.config import Settings  # the learner's current Settings

    return factory(Settings(**question.settings))


def run(question: Predict) -> httpx.Response:
    """Send the question's request `repeat` times to a fresh app; return the last response."""
    from workshop_lab.client import call

    request = question.request
    kwargs: dict[str, Any] = {}
    if request.headers:
        kwargs["headers"] = dict(request.headers)
    if request.body is not None:
        kwargs["json"] = request.body
    return call(build_app(question), request.method, request.path, repeat=question.repeat, **kwargs)
