"""The learner toolkit: what the notebooks use to build, call, check and quiz.

    from workshop_app import lab
    lab.start("03_middleware")            # first cell of every notebook
    async with lab.app_client(app) as client:
        lab.show(await client.get("/health/live"))
    lab.check("03.timing_middleware", TimingMiddleware)
    lab.quiz("03_middleware")

The reference app never imports this package; it is tooling, not production code.
No submodule shares a name with a function exported here: importing a submodule
binds it on the package, which would shadow a function of the same name.
"""

from workshop_app.lab.client import app_client, call, run_sync
from workshop_app.lab.dashboard import progress_dashboard as progress
from workshop_app.lab.database import fresh_database_url, rows
from workshop_app.lab.depgraph import show_dependency_graph
from workshop_app.lab.display import show
from workshop_app.lab.environment import environment_report, widget_probe
from workshop_app.lab.exercises import check, solution, starter
from workshop_app.lab.notebook import capture_logs, reload_app, start
from workshop_app.lab.quizzes import quiz
from workshop_app.lab.reference import changed_modules, restore
from workshop_app.lab.server import serve
from workshop_app.lab.tree import package_tree

__all__ = [
    "app_client",
    "call",
    "capture_logs",
    "changed_modules",
    "check",
    "environment_report",
    "fresh_database_url",
    "package_tree",
    "progress",
    "quiz",
    "reload_app",
    "restore",
    "rows",
    "run_sync",
    "serve",
    "show",
    "show_dependency_graph",
    "solution",
    "start",
    "starter",
    "widget_probe",
]
