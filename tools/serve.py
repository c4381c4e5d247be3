"""``python3 workshop.py serve``: the app under uvicorn with the demo data, for a browser or curl.

    python3 workshop.py serve                 # the reference app on http://127.0.0.1:8000
    python3 workshop.py serve --reload        # restart when a file of the package changes
    python3 workshop.py serve --workspace     # the package you built in the notebooks

For a laptop: the settings come from ``WORKSHOP_*`` variables and ``.env`` as always, and the
demo data is loaded unless ``WORKSHOP_SEED_DEMO_DATA`` says otherwise. In production the app
refuses the demo data and the development key itself; deploy it as the README shows.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]
APP = "workshop_app.main:create_app"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="workshop.py serve", description="Serve the app with uvicorn and the demo data."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--reload", action="store_true", help="restart when a file of the package changes"
    )
    parser.add_argument(
        "--workspace",
        action="store_true",
        help="serve the package you built in the notebooks (workspace/) instead of the reference",
    )
    return parser.parse_args(argv)


def package_root(use_workspace: bool) -> Path:
    """The folder holding the ``workshop_app`` to serve."""
    if not use_workspace:
        return ROOT
    sys.path.insert(0, str(ROOT))
    from workshop_lab.workspace import shown, workspace_dir

    workspace = workspace_dir()
    if not (workspace / "workshop_app" / "main.py").is_file():
        sys.exit(
            f"There is no app to serve in {shown(workspace)}: run notebooks 00-02 first "
            "(notebook 02 writes create_app), or `python3 workshop.py restore` for the whole app."
        )
    return workspace


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def check_settings() -> object:
    """The settings the app will read, or a readable reason it would not start."""
    config = importlib.import_module("workshop_app.config")
    try:
        return config.Settings()
    except ValidationError as exc:
        lines = [f"  {error['msg'].removeprefix('Value error, ')}" for error in exc.errors()]
        sys.exit("The app would not start with these settings:\n" + "\n".join(lines))


def main(argv: list[str]) -> int:
    args = parse(argv)
    root = package_root(args.workspace)
    # Import (and let uvicorn import) this workshop_app, also in --reload's child process.
    sys.path.insert(0, str(root))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])
    )

    settings = check_settings()
    environment = getattr(settings, "environment", "development")
    if environment != "production":
        os.environ.setdefault("WORKSHOP_SEED_DEMO_DATA", "true")
    if not port_is_free(args.host, args.port):
        sys.exit(
            f"Port {args.port} is in use: pass --port {args.port + 1}, or stop the server on it."
        )

    base = f"http://{args.host if ':' not in args.host else f'[{args.host}]'}:{args.port}"
    which = "your workspace package" if args.workspace else "the reference app"
    print(f"Serving {which} ({root / 'workshop_app'}).", flush=True)
    print(f"  API docs: {base}/docs", flush=True)
    if "api_key" not in type(settings).model_fields:
        print(f"  Try:      curl {base}/health/live", flush=True)
    elif "api_key" in settings.model_fields_set:
        print("  API key:  the one you set in WORKSHOP_API_KEY (not printed).", flush=True)
    else:
        key = settings.api_key.get_secret_value()
        print(f"  API key:  {key}  (the development key; send it as X-API-Key)", flush=True)
        print(f"  Try:      curl -H 'X-API-Key: {key}' {base}/users", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    uvicorn.run(
        APP,
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        reload_dirs=[str(root / "workshop_app")] if args.reload else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
