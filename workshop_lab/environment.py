"""The welcome notebook's environment check: versions, and whether widgets render.

The kernel cannot see whether the browser drew a widget, so the check shows a
widget whose text fallback (what appears when no widget front end is present)
tells the learner how to fix it.
"""

from __future__ import annotations

import html
import platform
from importlib.metadata import PackageNotFoundError, version

KEY_PACKAGES = (
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic-settings",
    "sqlmodel",
    "sqlalchemy",
    "httpx",
    "asgi-lifespan",
    "ipywidgets",
    "jupyterlab",
)
MINIMUM_PYTHON = (3, 11)
WIDGET_FIX = (
    "If you can read this sentence instead of a green 'Widgets work' box, widgets are not "
    "rendering. Fix: open the workshop with `python3 workshop.py lab` (or on Binder), "
    "reload the browser tab, then Kernel > Restart Kernel and Run All Cells. On GitHub or "
    "in plain IPython this text form is expected."
)


def package_versions() -> dict[str, str]:
    found = {}
    for name in KEY_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "MISSING: run `python3 workshop.py setup`"
    return found


class EnvironmentReport:
    """Python and package versions, as a table in Jupyter and text elsewhere."""

    def __init__(self) -> None:
        self.python = platform.python_version()
        self.python_ok = tuple(map(int, self.python.split(".")[:2])) >= MINIMUM_PYTHON
        self.packages = package_versions()

    def rows(self) -> list[tuple[str, str]]:
        verdict = "ok" if self.python_ok else "too old: install Python 3.11 or newer"
        return [("interpreter", f"Python {self.python} ({verdict})"), *self.packages.items()]

    def __repr__(self) -> str:
        width = max(len(name) for name, _ in self.rows())
        return "\n".join(f"{name:<{width}}  {value}" for name, value in self.rows())

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(n)}</td>"
            f"<td style='text-align:left'><code>{html.escape(v)}</code></td></tr>"
            for n, v in self.rows()
        )
        return f"<table><tr><th>component</th><th>version</th></tr>{rows}</table>"


class WidgetProbe:
    """A green box when widgets render; the fix, in words, when they do not."""

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        import ipywidgets as widgets

        box = widgets.HTML(
            "<div role='status' style='background:#dafbe1;padding:6px;border-radius:4px'>"
            "Widgets work: quizzes and the progress dashboard will be interactive.</div>"
        )
        bundle = box._repr_mimebundle_()
        bundle["text/plain"] = WIDGET_FIX
        bundle["text/html"] = f"<p>{html.escape(WIDGET_FIX)}</p>"
        return bundle
