"""The learner toolkit: what the notebooks use to build, call, check and quiz.

    from workshop_app import lab
    lab.start("03_middleware")            # first cell of every notebook
    async with lab.app_client(app) as client:
        lab.show(await client.get("/health/live"))
    lab.check("03.timing_middleware", TimingMiddleware)
    lab.quiz("03_middleware")

The reference app never imports this package; it is tooling, not production code.
Names are imported on first use, so ``import workshop_app.lab.client`` stays
light (no widgets) and one unfinished part never breaks the others.
"""

from importlib import import_module

# Two public names are also submodule names (lab.progress, lab.restore). Importing a
# submodule rebinds the package attribute to the module, so load both first and bind
# the public names after.
from workshop_app.lab import progress as _progress_store  # noqa: F401
from workshop_app.lab.restore import changed_modules, restore  # noqa: F401

_EXPORTS = {
    "app_client": "workshop_app.lab.client",
    "call": "workshop_app.lab.client",
    "run_sync": "workshop_app.lab.client",
    "show": "workshop_app.lab.display",
    "start": "workshop_app.lab.notebook",
    "reload_app": "workshop_app.lab.notebook",
    "capture_logs": "workshop_app.lab.notebook",
    "quiz": "workshop_app.lab.quiz",
    "check": "workshop_app.lab.exercises",
    "starter": "workshop_app.lab.exercises",
    "solution": "workshop_app.lab.exercises",
    "progress": "workshop_app.lab.dashboard",
    "show_dependency_graph": "workshop_app.lab.depgraph",
    "environment_report": "workshop_app.lab.environment",
    "widget_probe": "workshop_app.lab.environment",
}
_RENAMED = {"progress": "progress_dashboard"}

__all__ = sorted([*_EXPORTS, "changed_modules", "restore"])


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"workshop_app.lab has no {name!r}; it offers {', '.join(__all__)}")
    value = getattr(import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
