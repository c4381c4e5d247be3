"""Orders over HTTP: placing, reading, listing and moving them, and every refusal."""

from itertools import product

import api_helpers
import httpx
import pytest
from api_helpers import KEY, error_of, make_order, make_user, order_body

from workshop_app.services.order_service import MAX_ORDER_TOTAL_CENTS

pytestmark = [pytest.mark.anyio, pytest.mark.all_databases]

app_settings = api_helpers.app_settings
cheap_password_hashing = api_helpers.cheap_password_hashing
api = api_helpers.api

ENDPOINTS = [
    ("POST", "/users/1/orders"),
    ("GET", "/users/1/orders"),
    ("GET", "/orders/1"),
    ("POST", "/orders/1/pay"),
    ("POST", "/orders/1/ship"),
    ("POST", "/orders/1/cancel"),
]


@pytest.fixture
async def ada(api) -> dict:
    return await make_user(api)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
async def test_every_endpoint_requires_the_api_key(api, ada, method, path, headers):
    await make_order(api, ada["id"])
    response = await api.request(method, path, headers=headers, json=order_body())
    error_of(response, 401, "UNAUTHORIZED")
    order = (await api.get("/orders/1", headers=KEY)).json()
    assert order["status"] == "pending"  # nothing happened
    assert (await api.get("/users/1/orders", headers=KEY)).json()["total"] == 1


# --- POST /users/{user_id}/orders --------------------------------------------------------------


async def test_create_answers_201_with_the_location_and_a_computed_total(api, ada):
    body = order_body(("KB-1", 2, 4999), ("MS-2", 1, 1999))
    response = await api.post(f"/users/{ada['id']}/orders", json=body, headers=KEY)
    assert response.status_code == 201
    order = response.json()
    assert set(order) == {"id", "user_id", "status", "total_cents", "lines", "created_at"}
    assert (order["user_id"], order["status"], order["total_cents"]) == (
        ada["id"],
        "pending",
        11997,
    )
    assert order["lines"] == body["lines"]
    location = response.headers["location"]
    assert httpx.URL(location).path == f"/orders/{order['id']}"
    assert (await api.get(location, headers=KEY)).json() == order


async def test_the_client_cannot_set_the_total_or_the_status(api, ada):
    body = {**order_body(("KB-1", 1, 500)), "total_cents": 1, "status": "shipped"}
    order = (await api.post(f"/users/{ada['id']}/orders", json=body, headers=KEY)).json()
    assert (order["total_cents"], order["status"]) == (500, "pending")


async def test_an_order_for_a_missing_user_is_404_and_writes_nothing(api, ada):
    response = await api.post("/users/99/orders", json=order_body(), headers=KEY)
    error = error_of(response, 404, "NOT_FOUND")
    assert error["message"] == "User 99 does not exist."
    error_of(await api.get("/orders/1", headers=KEY), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "body.lines"),
        ({}, "body.lines"),
        (order_body(*[("S", 1, 1)] * 51), "body.lines"),
        (order_body(("KB-1", 0, 100)), "body.lines.0.quantity"),
        (order_body(("KB-1", -1, 100)), "body.lines.0.quantity"),
        (order_body(("KB-1", 1, -5)), "body.lines.0.unit_price_cents"),
        (order_body(("", 1, 5)), "body.lines.0.sku"),
        (order_body(("S" * 65, 1, 5)), "body.lines.0.sku"),
        (
            {"lines": [{"sku": "A", "quantity": 1.5, "unit_price_cents": 1}]},
            "body.lines.0.quantity",
        ),
    ],
)
async def test_an_invalid_order_is_422_in_the_envelope(api, ada, body, field):
    response = await api.post(f"/users/{ada['id']}/orders", json=body, headers=KEY)
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == [field]


async def test_an_order_above_the_total_limit_is_422_order_too_large(api, ada):
    path = f"/users/{ada['id']}/orders"
    at_limit = await api.post(
        path, json=order_body(("BIG", 2, MAX_ORDER_TOTAL_CENTS // 2)), headers=KEY
    )
    assert at_limit.status_code == 201
    over = await api.post(
        path, json=order_body(("BIG", 2, MAX_ORDER_TOTAL_CENTS // 2 + 1)), headers=KEY
    )
    error = error_of(over, 422, "ORDER_TOO_LARGE")
    assert error["message"] == (
        f"The order total is {MAX_ORDER_TOTAL_CENTS + 2} cents; "
        f"the limit is {MAX_ORDER_TOTAL_CENTS} cents."
    )
    huge = await api.post(path, json=order_body(("HUGE", 10_000, 10**30)), headers=KEY)
    error_of(huge, 422, "ORDER_TOO_LARGE")  # refused before the database, not a 500
    assert (await api.get(f"{path}", headers=KEY)).json()["total"] == 1


# --- GET /orders/{order_id} --------------------------------------------------------------------


async def test_get_answers_the_order_with_its_lines(api, ada):
    first = await make_order(api, ada["id"], ("A", 1, 100))
    await make_order(api, ada["id"], ("B", 2, 200))
    response = await api.get(f"/orders/{first['id']}", headers=KEY)
    assert response.status_code == 200 and response.json() == first


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orders/404"),
        ("POST", "/orders/404/pay"),
        ("POST", "/orders/404/ship"),
        ("POST", "/orders/404/cancel"),
    ],
)
async def test_a_missing_order_is_404_not_found(api, method, path):
    error = error_of(await api.request(method, path, headers=KEY), 404, "NOT_FOUND")
    assert error["message"] == "Order 404 does not exist."


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("POST", "/users/{}/orders", "path.user_id"),
        ("GET", "/users/{}/orders", "path.user_id"),
        ("GET", "/orders/{}", "path.order_id"),
        ("POST", "/orders/{}/pay", "path.order_id"),
        ("POST", "/orders/{}/ship", "path.order_id"),
        ("POST", "/orders/{}/cancel", "path.order_id"),
    ],
)
@pytest.mark.parametrize("value", [0, 2**63, 10**30])
async def test_an_id_outside_1_to_2_63_minus_1_is_422_not_a_crash(api, method, path, field, value):
    response = await api.request(method, path.format(value), json=order_body(), headers=KEY)
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == [field]


# --- GET /users/{user_id}/orders ---------------------------------------------------------------


@pytest.fixture
async def five_orders(api, ada) -> list[dict]:
    bob = await make_user(api, "bob@example.com")
    await make_order(api, bob["id"], ("BOB", 1, 1))
    orders = [await make_order(api, ada["id"], (f"A{i}", 1, i + 1)) for i in range(5)]
    await api.post(f"/orders/{orders[0]['id']}/pay", headers=KEY)
    await api.post(f"/orders/{orders[1]['id']}/cancel", headers=KEY)
    return orders


@pytest.mark.parametrize(
    ("query", "skus", "total"),
    [
        ("", ["A4", "A3", "A2", "A1", "A0"], 5),
        ("limit=2", ["A4", "A3"], 5),
        ("limit=2&offset=3", ["A1", "A0"], 5),
        ("offset=5", [], 5),
        ("status=pending", ["A4", "A3", "A2"], 3),
        ("status=pending&limit=1&offset=1", ["A3"], 3),
        ("status=paid", ["A0"], 1),
        ("status=cancelled", ["A1"], 1),
        ("status=shipped", [], 0),
    ],
)
async def test_list_pages_newest_first_and_filters_by_status(
    api, ada, five_orders, query, skus, total
):
    page = (await api.get(f"/users/{ada['id']}/orders?{query}", headers=KEY)).json()
    assert [order["lines"][0]["sku"] for order in page["items"]] == skus
    assert page["total"] == total and {o["user_id"] for o in page["items"]} <= {ada["id"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("offset=-1", "query.offset"),
        (f"offset={2**63}", "query.offset"),
        ("status=lost", "query.status"),
        ("status=PAID", "query.status"),
    ],
)
async def test_list_refuses_bad_parameters(api, ada, query, field):
    response = await api.get(f"/users/{ada['id']}/orders?{query}", headers=KEY)
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == [field]


async def test_the_orders_of_a_missing_user_are_404_not_an_empty_page(api):
    error = error_of(await api.get("/users/12/orders", headers=KEY), 404, "NOT_FOUND")
    assert error["message"] == "User 12 does not exist."


# --- the transitions ---------------------------------------------------------------------------

STATES = ["pending", "paid", "shipped", "cancelled"]
ACTIONS = {"pay": "paid", "ship": "shipped", "cancel": "cancelled"}
REACH = {"pending": [], "paid": ["pay"], "shipped": ["pay", "ship"], "cancelled": ["cancel"]}
ALLOWED = {("pending", "pay"), ("pending", "cancel"), ("paid", "ship"), ("paid", "cancel")}


@pytest.mark.parametrize(("state", "action"), list(product(STATES, ACTIONS)))
async def test_each_action_from_each_state(api, ada, state, action):
    order = await make_order(api, ada["id"])
    for step in REACH[state]:
        assert (await api.post(f"/orders/{order['id']}/{step}", headers=KEY)).status_code == 200
    response = await api.post(f"/orders/{order['id']}/{action}", headers=KEY)
    if (state, action) in ALLOWED:
        assert response.status_code == 200
        assert response.json() == {**order, "status": ACTIONS[action]}
        final = ACTIONS[action]
    else:
        error = error_of(response, 409, "ILLEGAL_TRANSITION")
        assert error["message"] == (
            f"Order {order['id']} is {state}; it cannot become {ACTIONS[action]}."
        )
        final = state
    assert (await api.get(f"/orders/{order['id']}", headers=KEY)).json()["status"] == final


async def test_the_happy_path_pending_paid_shipped(api, ada):
    order = await make_order(api, ada["id"])
    statuses = [
        (await api.post(f"/orders/{order['id']}/{action}", headers=KEY)).json()["status"]
        for action in ["pay", "ship"]
    ]
    assert statuses == ["paid", "shipped"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_actions_accept_only_post(api, ada, method):
    await make_order(api, ada["id"])
    response = await api.request(method, "/orders/1/pay", headers=KEY)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("path", "allow"), [("/users/1/orders", "GET, POST"), ("/orders/1", "GET")]
)
async def test_a_405_lists_every_method_of_the_path(api, path, allow):
    response = await api.request("PUT", path, headers=KEY)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == allow


# --- OpenAPI -----------------------------------------------------------------------------------


async def test_openapi_documents_tags_summaries_and_statuses(api):
    spec = (await api.get("/openapi.json")).json()
    expected = {
        ("post", "/users/{user_id}/orders"): {"201", "401", "404", "default"},
        ("get", "/users/{user_id}/orders"): {"200", "401", "404", "default"},
        ("get", "/orders/{order_id}"): {"200", "401", "404", "default"},
        ("post", "/orders/{order_id}/pay"): {"200", "401", "404", "409", "default"},
        ("post", "/orders/{order_id}/ship"): {"200", "401", "404", "409", "default"},
        ("post", "/orders/{order_id}/cancel"): {"200", "401", "404", "409", "default"},
    }
    for (method, path), statuses in expected.items():
        operation = spec["paths"][path][method]
        assert operation["tags"] == ["orders"] and operation["summary"], (method, path)
        assert set(operation["responses"]) == statuses, (method, path)
        assert operation["security"], (method, path)
    order_read = spec["components"]["schemas"]["OrderRead"]["properties"]
    assert set(order_read) == {"id", "user_id", "status", "total_cents", "lines", "created_at"}
