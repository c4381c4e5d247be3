"""Draw a route's dependency tree as a mermaid flowchart.

FastAPI builds each route's dependency tree once, when the route is registered
(`route.dependant`), and walks it on every request. Drawing that tree instead of a
hand-made diagram means the picture cannot drift from the code: each box is a
callable FastAPI will run, each arrow points from a dependant to what it needs.

Boxes are shared the way FastAPI's per-request cache shares results: a dependency
used in several places is one box (it runs once per request) unless it was
declared with `use_cache=False`, which gets a box per use. Active
`app.dependency_overrides` are drawn too, because they change what actually runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant, _get_cache_key
from fastapi.dependencies.utils import get_dependant
from fastapi.openapi.models import APIKey
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.security.base import SecurityBase
from IPython.display import Markdown


def dependency_graph(app: FastAPI, path: str, method: str = "GET") -> str:
    """Return mermaid `flowchart` text for the dependencies of one route."""
    route = find_route(app, path, method)
    drawer = _Drawer(app)
    root = drawer.add_node(
        ("endpoint",), [f"{method.upper()} {route.path}", f"{route.endpoint.__name__}()"]
    )
    drawer.walk(root, route.dependant)
    return drawer.render()


class MermaidGraph(Markdown):
    """Markdown holding one ```mermaid block: JupyterLab draws it from text/markdown.

    The plain-text form is the mermaid source itself (IPython's default is a bare class
    name), so a terminal shows the graph's text and nbval compares it.
    """

    def __repr__(self) -> str:
        return self.data


def show_dependency_graph(app: FastAPI, path: str, method: str = "GET") -> MermaidGraph:
    """Display the graph in JupyterLab, which renders ```mermaid blocks in Markdown."""
    return MermaidGraph(f"```mermaid\n{dependency_graph(app, path, method)}\n```")


def find_route(app: FastAPI, path: str, method: str) -> RouteContext:
    """Search the effective routes: FastAPI 0.165 mounts included routers lazily, so
    `app.routes` holds one entry per `include_router`, not the routes themselves."""
    routes = [r for r in iter_route_contexts(app.routes) if getattr(r, "dependant", None)]
    for route in routes:
        if route.path == path and method.upper() in (route.methods or ()):
            return route
    known = sorted(f"{m} {r.path}" for r in routes for m in r.methods or ())
    raise LookupError(f"No route {method.upper()} {path}. Known routes: {', '.join(known)}")


class _Drawer:
    """Collects nodes and edges in depth-first order, so the text is deterministic."""

    def __init__(self, app: FastAPI) -> None:
        self.overrides: dict[Callable[..., Any], Callable[..., Any]] = app.dependency_overrides
        self.ids: dict[Hashable, str] = {}
        self.nodes: list[str] = []
        self.edges: list[str] = []

    def add_node(self, key: Hashable, lines: list[str]) -> str:
        node_id = f"n{len(self.nodes)}"
        self.ids[key] = node_id
        label = "<br/>".join(_escape(line) for line in lines)
        self.nodes.append(f'    {node_id}["{label}"]')
        return node_id

    def walk(self, parent_id: str, dependant: Dependant) -> None:
        for sub in dependant.dependencies:
            call = sub.call
            override = self.overrides.get(call) if call is not None else None
            # FastAPI's own (private) cache key: the callable, its OAuth scopes, its exit scope,
            # so Depends(get_session) and Depends(get_session, scope="function") are two.
            key = _get_cache_key(dependant=sub)
            if not sub.use_cache:
                key = ("no-cache", len(self.nodes))
            is_new = key not in self.ids
            node_id = self.ids[key] if not is_new else self.add_node(key, _describe(sub, override))
            edge = f"    {parent_id} --> {node_id}"
            if edge not in self.edges:
                self.edges.append(edge)
            if is_new:
                # An override replaces the whole subtree: FastAPI solves the override's own
                # parameters and never calls the original's sub-dependencies.
                runs = get_dependant(path=sub.path or "", call=override) if override else sub
                self.walk(node_id, runs)

    def render(self) -> str:
        return "\n".join(["flowchart TD", *self.nodes, *self.edges])


def _describe(dep: Dependant, override: Callable[..., Any] | None) -> list[str]:
    lines = [_call_name(dep.call)]
    if override is not None:
        lines.append(f"overridden by {_call_name(override)}")
    shown = override or dep.call
    if isinstance(shown, SecurityBase):
        lines.append(f"security scheme {shown.scheme_name}")
        lines.append(_credential_source(shown))
    if _is_yield(shown):
        lines.append(f"yield, exits {'before' if dep.scope == 'function' else 'after'} response")
    if not dep.use_cache:
        lines.append("use_cache=False")
    if override is None:
        lines.extend(_inputs(dep))
    return lines


def _credential_source(scheme: SecurityBase) -> str:
    """Where a scheme reads the credential: its own parameter, or the Authorization header.

    Security schemes read the Request directly, so the dependant lists no header for them.
    """
    model = scheme.model
    if isinstance(model, APIKey):
        return f"{model.in_.value}: {model.name}"
    return "header: Authorization"


def _call_name(call: Callable[..., Any] | None) -> str:
    if call is None:
        return "?"
    if inspect.isfunction(call) or inspect.isclass(call) or inspect.ismethod(call):
        return call.__name__
    return type(call).__name__


def _is_yield(call: Callable[..., Any] | None) -> bool:
    target = call if inspect.isfunction(call) else getattr(call, "__call__", None)  # noqa: B004
    return inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target)


def _inputs(dep: Dependant) -> list[str]:
    lines = []
    for kind, params in (
        ("path", dep.path_params),
        ("query", dep.query_params),
        ("header", dep.header_params),
        ("cookie", dep.cookie_params),
        ("body", dep.body_params),
    ):
        if params:
            lines.append(f"{kind}: {', '.join(p.alias for p in params)}")
    if dep.request_param_name:
        lines.append("reads the Request")
    return lines


def _escape(text: str) -> str:
    """Mermaid labels are quoted strings; quotes and angle brackets need entity codes."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
