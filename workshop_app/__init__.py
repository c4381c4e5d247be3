"""FastAPI in Production: the workshop's reference app and its learner toolkit.

The reference app's layers sit directly in this package (``config``, ``main``,
``middleware``, ``routers``...); each module is written by one workshop notebook.
``workshop_app.lab`` is the learner toolkit: the app never imports it.
Importing this package has no side effects: build an app with
``workshop_app.main.create_app()``.
"""

__version__ = "0.1.0"
