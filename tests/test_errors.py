"""Every error leaves the API in the same envelope, with the request id and nothing internal."""

import logging

import pytest
from fastapi import HTTPException, Query
from pydantic import BaseModel, Field

from workshop_app.error_handlers import error_body, error_response, error_responses
from workshop_app.exceptions import (
    AppError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
    ValidationFailed,
)
from workshop_app.main import create_app
from workshop_app.request_context import request_id_var

pytestmark = pytest.mark.usefixtures("clean_env")

ENVELOPE_KEYS = {"code", "message", "request_id", "details"}


class SignUp(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=12)


def build_app(settings):
    """The real app plus routes that fail in every way the handlers must cover."""
    app = create_app(settings)

    @app.get("/raise/{name}", responses=error_responses(404, 409))
    async def raise_app_error(name: str) -> dict:
        raise ERRORS[name]()

    @app.get("/http-exception")
    async def raise_http_exception() -> dict:
        raise HTTPException(418, detail="Short and stout.", headers={"X-Teapot": "yes"})

    @app.post("/signup")
    async def signup(body: SignUp, limit: int = Query(10, le=100)) -> dict:
        return {}

    @app.get("/crash")
    async def crash() -> dict:
        raise RuntimeError("password=hunter2 at db.internal")

    return app


ERRORS = {  # factories: each request raises a fresh exception
    "not-found": lambda: NotFoundError("Order 42 does not exist."),
    "conflict": lambda: ConflictError(details=[{"field": "email", "message": "Already taken."}]),
    "invalid": lambda: ValidationFailed("Quantity exceeds stock."),
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "rate-limited": lambda: RateLimitedError(headers={"Retry-After": "7"}),
    "not-ready": ServiceUnavailableError,
}


@pytest.fixture
async def client(client_for, app_settings):
    async with client_for(build_app(app_settings), raise_app_exceptions=False) as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "status", "code", "message"),
    [
        ("not-found", 404, "NOT_FOUND", "Order 42 does not exist."),
        ("conflict", 409, "CONFLICT", ConflictError.default_message),
        ("invalid", 422, "VALIDATION_ERROR", "Quantity exceeds stock."),
        ("unauthorized", 401, "UNAUTHORIZED", UnauthorizedError.default_message),
        ("forbidden", 403, "FORBIDDEN", ForbiddenError.default_message),
        ("rate-limited", 429, "RATE_LIMITED", RateLimitedError.default_message),
        ("not-ready", 503, "NOT_READY", ServiceUnavailableError.default_message),
    ],
)
async def test_app_errors_render_the_envelope(client, name, status, code, message):
    response = await client.get(f"/raise/{name}", headers={"X-Request-ID": "trace-me-1"})

    assert response.status_code == status
    assert response.json() == {
        "error": {
            "code": code,
            "message": message,
            "request_id": "trace-me-1",
            "details": ERRORS[name]().details,
        }
    }
    assert response.headers["X-Request-ID"] == "trace-me-1"


@pytest.mark.anyio
async def test_app_error_details_and_headers_are_kept(client):
    conflict = await client.get("/raise/conflict")
    unauthorized = await client.get("/raise/unauthorized")
    limited = await client.get("/raise/rate-limited")

    assert conflict.json()["error"]["details"] == [{"field": "email", "message": "Already taken."}]
    assert unauthorized.headers["WWW-Authenticate"] == "APIKey"
    assert limited.headers["Retry-After"] == "7"


def test_app_error_defaults_and_overrides():
    error = UnauthorizedError("Bad key.", headers={"WWW-Authenticate": "Bearer"})

    assert (error.status_code, error.code, error.message, str(error)) == (
        401,
        "UNAUTHORIZED",
        "Bad key.",
        "Bad key.",
    )
    assert error.headers == {"WWW-Authenticate": "Bearer"}
    assert UnauthorizedError().headers == {"WWW-Authenticate": "APIKey"}
    assert NotFoundError().headers is None and NotFoundError().details == []
    assert issubclass(NotFoundError, AppError) and issubclass(AppError, Exception)


@pytest.mark.anyio
async def test_unknown_route_is_a_404_envelope(client):
    response = await client.get("/no/such/route")

    error = response.json()["error"]
    assert response.status_code == 404
    assert (error["code"], error["message"], error["details"]) == ("NOT_FOUND", "Not Found", [])
    assert error["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.anyio
async def test_wrong_method_is_a_405_envelope_with_allow(client):
    response = await client.delete("/health/live")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["Allow"] == "GET"


@pytest.mark.anyio
async def test_http_exception_keeps_its_detail_and_headers(client):
    response = await client.get("/http-exception")

    assert response.status_code == 418
    assert response.json()["error"]["code"] == "IM_A_TEAPOT"
    assert response.json()["error"]["message"] == "Short and stout."
    assert response.headers["X-Teapot"] == "yes"


@pytest.mark.anyio
async def test_validation_errors_are_normalised_without_echoing_input(client):
    secret_password = "tiny-secret"
    response = await client.post(
        "/signup?limit=500", json={"email": "not-an-email", "password": secret_password}
    )

    error = response.json()["error"]
    assert response.status_code == 422
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", "The request is not valid.")
    by_field = {detail["field"]: detail for detail in error["details"]}
    assert set(by_field) == {"body.email", "body.password", "query.limit"}
    assert by_field["body.password"]["type"] == "string_too_short"
    assert by_field["query.limit"]["type"] == "less_than_equal"
    assert all(set(detail) == {"field", "message", "type"} for detail in error["details"])
    assert secret_password not in response.text and "not-an-email" not in response.text


@pytest.mark.anyio
async def test_missing_body_is_a_422_envelope(client):
    response = await client.post("/signup")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "body", "message": "Field required", "type": "missing"}
    ]


@pytest.mark.anyio
async def test_unhandled_exception_is_a_generic_500_with_request_id(client, caplog):
    with caplog.at_level(logging.ERROR, logger="workshop_app.error_handlers"):
        response = await client.get("/crash", headers={"X-Request-ID": "crash-7"})

    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": "An unexpected error occurred.",
            "request_id": "crash-7",
            "details": [],
        }
    }
    assert response.headers["X-Request-ID"] == "crash-7"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    [record] = [r for r in caplog.records if r.name == "workshop_app.error_handlers"]
    assert "crash-7" in record.getMessage()
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


def test_error_response_reads_the_request_id_from_the_contextvar():
    token = request_id_var.set("ctx-id-9")
    try:
        response = error_response(
            409, "CONFLICT", "Taken.", details=[{"field": "sku"}], headers={"X-A": "1"}
        )
    finally:
        request_id_var.reset(token)

    assert response.status_code == 409
    assert response.headers["X-A"] == "1"
    assert response.body == (
        b'{"error":{"code":"CONFLICT","message":"Taken.","request_id":"ctx-id-9",'
        b'"details":[{"field":"sku"}]}}'
    )
    assert error_body("X", "y")["error"]["request_id"] is None  # outside a request


def test_error_responses_document_the_envelope_in_openapi(app_settings):
    schema = build_app(app_settings).openapi()

    responses = schema["paths"]["/raise/{name}"]["get"]["responses"]
    assert set(responses) == {"200", "404", "409", "default"}
    assert responses["404"]["description"] == "Not Found"
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for status in ("404", "409", "default"):
        assert responses[status]["content"]["application/json"]["schema"] == envelope
    error_body_schema = schema["components"]["schemas"]["ErrorBody"]
    assert set(error_body_schema["properties"]) == ENVELOPE_KEYS
    detail_schema = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail_schema["properties"]) == {"field", "message", "type"}


def test_every_route_documents_the_envelope_and_never_fastapis_422_shape(app_settings):
    """A route with parameters would otherwise document ``{"detail": [...]}`` for 422."""
    schema = build_app(app_settings).openapi()

    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            default = operation["responses"]["default"]
            assert default["content"]["application/json"]["schema"] == envelope, (method, path)
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in schema["components"]["schemas"]


@pytest.mark.anyio
async def test_http_exception_with_a_dict_detail_keeps_the_envelope_shape(client_for, app_settings):
    app = build_app(app_settings)

    @app.get("/library-error")
    async def library_error() -> dict:
        raise HTTPException(400, detail={"internal": "table orders_v2", "hint": "x"})

    async with client_for(app) as client:
        response = await client.get("/library-error")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert response.json()["error"]["message"] == "Bad Request"
    assert "orders_v2" not in response.text
