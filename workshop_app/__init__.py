"""FastAPI in Production: the workshop's reference app.

The app's layers sit directly in this package (``config``, ``main``, ``middleware``,
``routers``...); the workshop's notebooks write them, one layer at a time. Importing this
package has no side effects: build an app with ``workshop_app.main.create_app()``.
"""

__version__ = "0.1.0"
