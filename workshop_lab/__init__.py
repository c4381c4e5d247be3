"""The learner toolkit: what the notebooks use to build, call, check and quiz.

    import workshop_lab as lab
    lab.start("04_middleware")            # first cell of every notebook
    async with lab.app_client(app) as client:
        lab.show(await client.get("/health/live"))
    lab.check("04.timing_middleware", TimingMiddleware)
    lab.quiz("04_middleware")

The app never imports this package; it is tooling, not production code.
No submodule shares a name with a function exported here: importing a submodule
binds it on the package, which would shadow a function of the same name.
"""

from workshop_lab.client import app_client
from workshop_lab.dashboard import ProgressDashboard as progress
from workshop_lab.database import fresh_database_url, rows, scratch_dir
from workshop_lab.depgraph import show_dependency_graph
from workshop_lab.display import show
from workshop_lab.environment import EnvironmentReport as environment_report
from workshop_lab.environment import WidgetProbe as widget_probe
from workshop_lab.exercises import check, hint, solution, starter
from workshop_lab.notebook import capture_logs, reload_app, show_changes, start
from workshop_lab.quizzes import quiz
from workshop_lab.reference import changed_modules, package_tree, restore
from workshop_lab.servers import postgres, serve, valkey

__all__ = [
    "app_client",
    "capture_logs",
    "changed_modules",
    "check",
    "environment_report",
    "fresh_database_url",
    "hint",
    "package_tree",
    "postgres",
    "progress",
    "quiz",
    "reload_app",
    "restore",
    "rows",
    "scratch_dir",
    "serve",
    "show",
    "show_changes",
    "show_dependency_graph",
    "solution",
    "start",
    "starter",
    "valkey",
    "widget_probe",
]
