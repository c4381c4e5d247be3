"""The learner toolkit's dependency graph, drawn from FastAPI's own dependant tree."""

import re
from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from IPython.core.formatters import DisplayFormatter
from IPython.display import Markdown
from pydantic import SecretStr

from workshop_app.config import Settings
from workshop_app.dependencies import (
    Caller,
    PaginationDep,
    SessionDep,
    get_caller,
)
from workshop_app.routers import me
from workshop_lab.depgraph import dependency_graph, show_dependency_graph


@pytest.fixture
def me_app(clean_env: None) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(environment="test", api_key=SecretStr("graph-key"))
    app.include_router(me.router, prefix="/me")
    return app


def parse(graph: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Node id -> label lines, and edges as (from, to) ids."""
    nodes = {
        node_id: label.split("<br/>")
        for node_id, label in re.findall(r'^    (n\d+)\["(.*)"\]$', graph, re.MULTILINE)
    }
    edges = re.findall(r"^    (n\d+) --> (n\d+)$", graph, re.MULTILINE)
    return nodes, edges


def node_ids(nodes: dict[str, list[str]], name: str) -> list[str]:
    return [node_id for node_id, lines in nodes.items() if lines[0] == name]


def test_me_graph_shows_the_caller_chain(me_app: FastAPI) -> None:
    graph = dependency_graph(me_app, "/me")
    assert graph.startswith("flowchart TD\n")
    nodes, edges = parse(graph)
    [root] = node_ids(nodes, "GET /me")
    [caller] = node_ids(nodes, "get_caller")
    [settings] = node_ids(nodes, "get_settings_dep")
    [api_key] = node_ids(nodes, "APIKeyHeader")
    [bearer] = node_ids(nodes, "HTTPBearer")
    assert set(edges) == {
        (root, caller),
        (caller, settings),
        (caller, api_key),
        (caller, bearer),
    }
    assert "security scheme ApiKeyHeader" in nodes[api_key]
    assert "reads the Request" in nodes[settings]
    # Every line of the text is a node or an edge: nothing else for mermaid to choke on.
    assert len(graph.splitlines()) == 1 + len(nodes) + len(edges)


def test_graph_is_deterministic() -> None:
    def build() -> FastAPI:
        app = FastAPI()
        app.include_router(me.router, prefix="/me")
        return app

    first = dependency_graph(build(), "/me")
    assert dependency_graph(build(), "/me") == first
    assert "0x" not in first  # no memory addresses in labels


def test_cached_dependency_is_one_node_and_use_cache_false_is_another() -> None:
    def shared() -> int:
        return 1

    def left(v: Annotated[int, Depends(shared)]) -> int:
        return v

    def right(v: Annotated[int, Depends(shared)]) -> int:
        return v

    def fresh(v: Annotated[int, Depends(shared, use_cache=False)]) -> int:
        return v

    app = FastAPI()

    @app.get("/x")
    def endpoint(
        a: Annotated[int, Depends(left)],
        b: Annotated[int, Depends(right)],
        c: Annotated[int, Depends(fresh)],
    ) -> None:
        return None

    nodes, edges = parse(dependency_graph(app, "/x"))
    # Two boxes for `shared`: the cached one (runs once for left and right) and fresh's own.
    cached, uncached = sorted(
        node_ids(nodes, "shared"), key=lambda i: "use_cache=False" in nodes[i]
    )
    assert "use_cache=False" not in nodes[cached] and "use_cache=False" in nodes[uncached]
    [left_id], [right_id], [fresh_id] = (node_ids(nodes, n) for n in ("left", "right", "fresh"))
    assert (left_id, cached) in edges and (right_id, cached) in edges
    assert (fresh_id, uncached) in edges


def test_yield_scope_and_query_parameters_are_labelled() -> None:
    async def per_request() -> AsyncIterator[None]:
        yield

    app = FastAPI()

    @app.get("/items")
    async def items(
        session: SessionDep, page: PaginationDep, _r: Annotated[None, Depends(per_request)]
    ) -> None:
        return None

    nodes, edges = parse(dependency_graph(app, "/items"))
    [session] = node_ids(nodes, "get_session")
    [engine] = node_ids(nodes, "get_engine")
    [pagination] = node_ids(nodes, "Pagination")
    [request_scoped] = node_ids(nodes, "per_request")
    assert "yield, exits before response" in nodes[session]
    assert "yield, exits after response" in nodes[request_scoped]
    assert not any("yield" in line for line in nodes[engine])
    assert "query: limit, offset" in nodes[pagination]
    assert (session, engine) in edges


def test_router_level_dependencies_are_part_of_the_route(me_app: FastAPI) -> None:
    def audit() -> None:
        return None

    router = APIRouter()

    @router.get("/thing")
    async def thing() -> None:
        return None

    me_app.include_router(router, prefix="/v1", dependencies=[Depends(audit)])
    nodes, edges = parse(dependency_graph(me_app, "/v1/thing"))
    [root], [audit_id] = node_ids(nodes, "GET /v1/thing"), node_ids(nodes, "audit")
    assert edges == [(root, audit_id)]


def test_overrides_replace_the_subtree(me_app: FastAPI) -> None:
    def fake_caller() -> Caller:
        return Caller(name="test-user", auth_scheme="bearer")

    me_app.dependency_overrides[get_caller] = fake_caller
    nodes, edges = parse(dependency_graph(me_app, "/me"))
    [caller] = node_ids(nodes, "get_caller")
    assert "overridden by fake_caller" in nodes[caller]
    assert not node_ids(nodes, "get_settings_dep")  # never runs while overridden
    assert len(edges) == 1


def test_unknown_route_lists_the_known_ones(me_app: FastAPI) -> None:
    with pytest.raises(LookupError, match=r"GET /me"):
        dependency_graph(me_app, "/nope")
    with pytest.raises(LookupError, match=r"No route POST /me"):
        dependency_graph(me_app, "/me", method="post")


def test_show_returns_a_mermaid_markdown_block(me_app: FastAPI) -> None:
    shown = show_dependency_graph(me_app, "/me")
    assert isinstance(shown, Markdown)
    assert shown.data == f"```mermaid\n{dependency_graph(me_app, '/me')}\n```"


def test_both_displayed_forms_are_the_graph_and_deterministic(me_app: FastAPI) -> None:
    """nbval compares text/plain: it must be the graph itself, identical on every build."""
    formatter = DisplayFormatter()
    first, _ = formatter.format(show_dependency_graph(me_app, "/me"))
    app = FastAPI()
    app.include_router(me.router, prefix="/me")
    again, _ = formatter.format(show_dependency_graph(app, "/me"))
    assert first["text/plain"] == first["text/markdown"] == shown_block(me_app)
    assert (again["text/plain"], again["text/markdown"]) == (
        first["text/plain"],
        first["text/markdown"],
    )


def shown_block(app: FastAPI) -> str:
    return f"```mermaid\n{dependency_graph(app, '/me')}\n```"


def test_security_schemes_say_where_the_credential_is_read(me_app: FastAPI) -> None:
    nodes, _ = parse(dependency_graph(me_app, "/me"))
    [api_key] = node_ids(nodes, "APIKeyHeader")
    [bearer] = node_ids(nodes, "HTTPBearer")
    assert "header: X-API-Key" in nodes[api_key]
    assert "header: Authorization" in nodes[bearer]


def test_callable_instances_are_labelled_by_class() -> None:
    class RateCheck:
        def __call__(self) -> int:
            return 1

    app = FastAPI()

    @app.get("/q")
    async def endpoint(v: Annotated[int, Depends(RateCheck())]) -> None:
        return None

    nodes, edges = parse(dependency_graph(app, "/q"))
    [root], [check] = node_ids(nodes, "GET /q"), node_ids(nodes, "RateCheck")
    assert edges == [(root, check)]


def test_quotes_and_brackets_are_escaped() -> None:
    app = FastAPI()

    @app.get('/say/"hi"/<b>')
    async def endpoint() -> None:
        return None

    graph = dependency_graph(app, '/say/"hi"/<b>')
    nodes, _ = parse(graph)
    assert node_ids(nodes, "GET /say/#quot;hi#quot;/#lt;b#gt;")
    assert '"hi"' not in graph


def test_boxes_follow_fastapis_cache_key_including_the_exit_scope() -> None:
    """A yield dependency without a scope is request-scoped: same box as scope="request",
    another box (and another session at runtime) than SessionDep's scope="function"."""
    from workshop_app.dependencies import get_session

    app = FastAPI()

    @app.get("/s")
    async def endpoint(
        a: SessionDep,
        b: SessionDep,
        c: Annotated[object, Depends(get_session)],
        d: Annotated[object, Depends(get_session, scope="request")],
    ) -> None:
        return None

    nodes, edges = parse(dependency_graph(app, "/s"))
    sessions = node_ids(nodes, "get_session")
    assert len(sessions) == 2
    labels = sorted(nodes[i][1] for i in sessions)
    assert labels == ["yield, exits after response", "yield, exits before response"]
    [root] = node_ids(nodes, "GET /s")
    assert len([e for e in edges if e[0] == root]) == 2  # duplicates drawn once
