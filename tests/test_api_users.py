"""`/users` over HTTP: every endpoint, every refusal, through the real app in-process.

Every response of every test is also checked for password material (``api_helpers.api``).
"""

import api_helpers
import httpx
import pytest
from api_helpers import KEY, PASSWORD, error_of, make_order, make_user, user_body
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.database import create_engine
from workshop_app.main import create_app
from workshop_app.models import User
from workshop_app.services.user_service import verify_password

pytestmark = [pytest.mark.anyio, pytest.mark.all_databases]

app_settings = api_helpers.app_settings
cheap_password_hashing = api_helpers.cheap_password_hashing
api = api_helpers.api

ENDPOINTS = [
    ("POST", "/users"),
    ("GET", "/users"),
    ("GET", "/users/1"),
    ("PATCH", "/users/1"),
    ("DELETE", "/users/1"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer no"}])
async def test_every_endpoint_requires_the_api_key(api, method, path, headers):
    await make_user(api)
    response = await api.request(method, path, headers=headers, json=user_body("bob@example.com"))
    error_of(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == "APIKey, Bearer"
    still_there = await api.get("/users/1", headers=KEY)
    assert still_there.json()["email"] == "ada@example.com"  # nothing happened


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/users", "GET, POST"), ("POST", "/users/1", "GET, PATCH, DELETE")],
)
async def test_a_405_lists_every_method_of_the_path_not_just_one_routes(api, method, path, allow):
    response = await api.request(method, path, headers=KEY)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == allow


async def test_the_key_is_checked_before_the_body_is_validated(api):
    response = await api.post("/users", json={"email": "not-an-email"})
    error_of(response, 401, "UNAUTHORIZED")


async def test_bearer_works_as_well_as_the_header(api):
    created = await make_user(api)
    token = {"Authorization": f"Bearer {KEY['X-API-Key']}"}
    assert (await api.get(f"/users/{created['id']}", headers=token)).status_code == 200


# --- POST /users -------------------------------------------------------------------------------


async def test_create_answers_201_with_the_location_of_the_new_user(api):
    response = await api.post("/users", json=user_body("Ada@Example.COM"), headers=KEY)
    assert response.status_code == 201
    user = response.json()
    assert set(user) == {"id", "email", "full_name", "is_active", "created_at"}
    assert (user["email"], user["full_name"], user["is_active"]) == (
        "ada@example.com",
        "Ada Lovelace",
        True,
    )
    assert user["created_at"].endswith("Z") or user["created_at"].endswith("+00:00")
    location = response.headers["location"]
    assert httpx.URL(location).path == f"/users/{user['id']}"
    assert (await api.get(location, headers=KEY)).json() == user


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@example.com", "  ada@EXAMPLE.com "])
async def test_a_taken_email_is_409_email_taken(api, email):
    await make_user(api)
    response = await api.post("/users", json=user_body(email), headers=KEY)
    error = error_of(response, 409, "EMAIL_TAKEN")
    assert error["message"] == "A user with the email ada@example.com already exists."
    assert "location" not in response.headers
    listed = await api.get("/users", headers=KEY)
    assert listed.json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (user_body(password="s3cr3t"), ["body.password"]),
        (user_body(email="not-an-email"), ["body.email"]),
        (user_body(full_name=""), ["body.full_name"]),
        (user_body(email="a" * 310 + "@example.com"), ["body.email"]),
        ({"email": "ada@example.com"}, ["body.full_name", "body.password"]),
        ({}, ["body.email", "body.full_name", "body.password"]),
    ],
)
async def test_an_invalid_body_is_422_in_the_envelope_without_echoing_it(api, body, fields):
    response = await api.post("/users", json=body, headers=KEY)
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert sorted(detail["field"] for detail in error["details"]) == fields
    assert "s3cr3t" not in response.text and "not-an-email" not in response.text


async def test_a_body_that_is_not_json_is_422(api):
    response = await api.post(
        "/users", content=b"email=ada", headers={**KEY, "Content-Type": "text/plain"}
    )
    error_of(response, 422, "VALIDATION_ERROR")


async def test_a_client_cannot_choose_the_id_or_the_hash(api):
    body = user_body(id=99, password_hash="scrypt$1$1$1$x$y", is_active=False)
    created = (await api.post("/users", json=body, headers=KEY)).json()
    assert created["id"] == 1 and created["is_active"] is True


# --- GET /users/{id} ---------------------------------------------------------------------------


async def test_get_answers_the_user(api):
    created = await make_user(api)
    response = await api.get(f"/users/{created['id']}", headers=KEY)
    assert response.status_code == 200 and response.json() == created


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("user_id", ["0", "-1", str(2**63), "1" + "0" * 30])
async def test_an_id_outside_1_to_2_63_minus_1_is_422_not_a_crash(api, method, user_id):
    response = await api.request(method, f"/users/{user_id}", headers=KEY, json={})
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == ["path.user_id"]


async def test_the_largest_id_is_a_plain_404(api):
    error_of(await api.get(f"/users/{2**63 - 1}", headers=KEY), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_a_missing_user_is_404_not_found(api, method):
    response = await api.request(method, "/users/999", headers=KEY, json={"full_name": "X"})
    error = error_of(response, 404, "NOT_FOUND")
    assert error["message"] == "User 999 does not exist."


async def test_a_non_integer_id_is_422(api):
    error = error_of(await api.get("/users/abc", headers=KEY), 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "path.user_id"


# --- GET /users --------------------------------------------------------------------------------


@pytest.fixture
async def five(api) -> list[dict]:
    users = [
        await make_user(api, f"{name}@example.com") for name in ["ada", "bob", "cy_x", "dee", "eve"]
    ]
    await api.patch(f"/users/{users[1]['id']}", json={"is_active": False}, headers=KEY)
    return users


async def test_list_defaults_to_the_first_20_in_id_order(api, five):
    page = (await api.get("/users", headers=KEY)).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 20, 0)
    assert [user["id"] for user in page["items"]] == [user["id"] for user in five]


@pytest.mark.parametrize(
    ("query", "names", "total"),
    [
        ("limit=2", ["ada", "bob"], 5),
        ("limit=2&offset=2", ["cy_x", "dee"], 5),
        ("limit=2&offset=4", ["eve"], 5),
        ("offset=5", [], 5),
        ("limit=100", ["ada", "bob", "cy_x", "dee", "eve"], 5),
        ("email_contains=E", ["ada", "bob", "cy_x", "dee", "eve"], 5),
        ("email_contains=ee", ["dee"], 1),
        ("email_contains=_", ["cy_x"], 1),
        ("email_contains=%25", [], 0),
        ("is_active=false", ["bob"], 1),
        ("is_active=true&limit=2&offset=1", ["cy_x", "dee"], 4),
        ("is_active=true&email_contains=e&limit=1", ["ada"], 4),
    ],
)
async def test_list_pages_and_filters(api, five, query, names, total):
    page = (await api.get(f"/users?{query}", headers=KEY)).json()
    assert [user["email"].split("@")[0] for user in page["items"]] == names
    assert page["total"] == total


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("limit=ten", "query.limit"),
        ("offset=-1", "query.offset"),
        (f"offset={2**63}", "query.offset"),
        ("is_active=maybe", "query.is_active"),
        ("email_contains=" + "x" * 321, "query.email_contains"),
    ],
)
async def test_list_refuses_out_of_bounds_parameters(api, query, field):
    error = error_of(await api.get(f"/users?{query}", headers=KEY), 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == [field]


# --- PATCH /users/{id} -------------------------------------------------------------------------


async def test_patch_changes_only_what_was_sent(api):
    created = await make_user(api)
    path = f"/users/{created['id']}"
    renamed = (await api.patch(path, json={"full_name": "Augusta Ada King"}, headers=KEY)).json()
    assert renamed == {**created, "full_name": "Augusta Ada King"}
    deactivated = (await api.patch(path, json={"is_active": False}, headers=KEY)).json()
    assert deactivated == {**renamed, "is_active": False}
    assert (await api.patch(path, json={}, headers=KEY)).json() == deactivated
    assert (await api.get(path, headers=KEY)).json() == deactivated


async def test_patch_ignores_fields_a_client_may_not_change(api):
    created = await make_user(api)
    body = {"email": "mallory@example.com", "id": 7, "password": "new password!"}
    response = await api.patch(f"/users/{created['id']}", json=body, headers=KEY)
    assert response.status_code == 200 and response.json() == created


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"full_name": ""}, "body.full_name"),
        ({"full_name": "x" * 201}, "body.full_name"),
        ({"is_active": "sometimes"}, "body.is_active"),
    ],
)
async def test_patch_refuses_invalid_values(api, body, field):
    created = await make_user(api)
    response = await api.patch(f"/users/{created['id']}", json=body, headers=KEY)
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == [field]
    assert (await api.get(f"/users/{created['id']}", headers=KEY)).json() == created


@pytest.mark.parametrize(
    "body", [{"full_name": None}, {"is_active": None}, {"full_name": None, "is_active": None}]
)
async def test_patch_with_null_keeps_the_current_value(api, body):
    """The schema documents both fields as nullable: null is accepted, and changes nothing."""
    created = await make_user(api)
    response = await api.patch(f"/users/{created['id']}", json=body, headers=KEY)
    assert response.status_code == 200 and response.json() == created


# --- DELETE /users/{id} ------------------------------------------------------------------------


async def test_delete_answers_204_with_no_body_and_the_user_is_gone(api):
    created = await make_user(api)
    response = await api.delete(f"/users/{created['id']}", headers=KEY)
    assert response.status_code == 204
    assert response.content == b"" and "content-type" not in response.headers
    error_of(await api.get(f"/users/{created['id']}", headers=KEY), 404, "NOT_FOUND")
    error_of(await api.delete(f"/users/{created['id']}", headers=KEY), 404, "NOT_FOUND")


async def test_delete_takes_the_users_orders_with_it(api):
    ada, bob = await make_user(api), await make_user(api, "bob@example.com")
    ada_order, bob_order = await make_order(api, ada["id"]), await make_order(api, bob["id"])
    await api.delete(f"/users/{ada['id']}", headers=KEY)
    error_of(await api.get(f"/orders/{ada_order['id']}", headers=KEY), 404, "NOT_FOUND")
    assert (await api.get(f"/orders/{bob_order['id']}", headers=KEY)).status_code == 200


async def test_a_deleted_email_can_register_again(api):
    created = await make_user(api)
    await api.delete(f"/users/{created['id']}", headers=KEY)
    again = await make_user(api, full_name="Ada King")
    assert (await api.get(f"/users/{again['id']}", headers=KEY)).json()["full_name"] == "Ada King"


# --- the contract: OpenAPI, and what never leaves the API ---------------------------------------


async def test_openapi_documents_tags_summaries_and_statuses(api):
    spec = (await api.get("/openapi.json")).json()
    expected = {
        ("post", "/users"): {"201", "401", "409", "default"},
        ("get", "/users"): {"200", "401", "default"},
        ("get", "/users/{user_id}"): {"200", "401", "404", "default"},
        ("patch", "/users/{user_id}"): {"200", "401", "404", "default"},
        ("delete", "/users/{user_id}"): {"204", "401", "404", "default"},
    }
    for (method, path), statuses in expected.items():
        operation = spec["paths"][path][method]
        assert operation["tags"] == ["users"] and operation["summary"], (method, path)
        assert set(operation["responses"]) == statuses, (method, path)
    assert "password_hash" not in spec["components"]["schemas"]["UserRead"]["properties"]
    [user_id] = spec["paths"]["/users/{user_id}"]["get"]["parameters"]
    assert (user_id["schema"]["minimum"], user_id["schema"]["maximum"]) == (1, 2**63 - 1)


async def test_the_hash_is_stored_but_never_answered(client_for, app_settings, tmp_path):
    """The `api` fixture checks responses for leaks; this proves there was a hash to leak."""
    url = f"sqlite+aiosqlite:///{(tmp_path / 'users.db').as_posix()}"
    settings = app_settings.model_copy(update={"database_url": url})
    async with client_for(create_app(settings)) as client:
        created = (await client.post("/users", json=user_body(), headers=KEY)).json()
        path = f"/users/{created['id']}"
        answers = [
            await client.get(path, headers=KEY),
            await client.get("/users", headers=KEY),
            await client.patch(path, json={"is_active": False}, headers=KEY),
        ]
    engine = create_engine(settings)
    try:
        async with AsyncSession(engine) as session:
            stored = (await session.exec(select(User.password_hash))).one()
    finally:
        await engine.dispose()
    assert stored.startswith("scrypt$") and verify_password(PASSWORD, stored)
    assert all(r.status_code == 200 for r in answers)
    assert not any(stored.split("$")[-1] in r.text or "password" in r.text for r in answers)
