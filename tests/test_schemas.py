"""Request and response models: what a client may send, and all that it may see."""

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from workshop_app.models import Order, OrderStatus, User
from workshop_app.schemas import (
    OrderCreate,
    OrderLineRead,
    OrderRead,
    Page,
    UserCreate,
    UserRead,
    UserUpdate,
)

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stored_user() -> User:
    return User(
        id=7,
        email="ada@example.com",
        full_name="Ada Lovelace",
        password_hash="scrypt$secret-hash",
        created_at=CREATED,
    )


def test_user_create_keeps_the_password_out_of_its_repr():
    user = UserCreate(email=" ada@example.com ", full_name="Ada", password="correct horse")

    assert user.email == "ada@example.com"
    assert user.password.get_secret_value() == "correct horse"
    assert "correct horse" not in repr(user)
    assert "correct horse" not in user.model_dump_json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "a@" + "b" * 320 + ".com"),
        ("full_name", "   "),
        ("password", "short"),
    ],
)
def test_user_create_rejects(field, value):
    data = {"email": "ada@example.com", "full_name": "Ada", "password": "long enough"}
    with pytest.raises(ValidationError) as caught:
        UserCreate(**{**data, field: value})
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "ada.example.com", "value is not a valid email address: An email address "),
        ("email", "ada@", "value is not a valid email address: There must be something after"),
        ("password", "short", "String should have at least 8 characters"),
        ("password", "p" * 129, "String should have at most 128 characters"),
    ],
)
def test_user_create_says_what_is_wrong_in_words(field, value, message):
    data = {"email": "ada@example.com", "full_name": "Ada", "password": "long enough"}
    with pytest.raises(ValidationError) as caught:
        UserCreate(**{**data, field: value})
    [error] = caught.value.errors()
    assert error["msg"].startswith(message), error["msg"]


def test_the_documented_password_lengths_are_the_checked_ones():
    documented = UserCreate.model_json_schema()["properties"]["password"]
    assert (documented["minLength"], documented["maxLength"]) == (8, 128)
    assert documented["writeOnly"] is True
    UserCreate(email="ada@example.com", full_name="Ada", password="p" * 8)
    UserCreate(email="ada@example.com", full_name="Ada", password="p" * 128)


def test_user_create_has_no_id_or_hash_to_set():
    assert set(UserCreate.model_fields) == {"email", "full_name", "password"}


def test_user_update_knows_which_fields_were_sent():
    assert UserUpdate(is_active=False).model_dump(exclude_unset=True) == {"is_active": False}


def test_user_read_reads_a_table_row_and_leaves_out_the_hash():
    read = UserRead.model_validate(stored_user())

    assert read.model_dump() == {
        "id": 7,
        "email": "ada@example.com",
        "full_name": "Ada Lovelace",
        "is_active": True,
        "created_at": CREATED,
    }


@pytest.mark.anyio
async def test_response_model_filters_the_internal_field():
    app = FastAPI()

    @app.get("/leaky")
    async def leaky() -> dict:
        return stored_user().model_dump()

    @app.get("/filtered", response_model=UserRead)
    async def filtered() -> User:
        return stored_user()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        leaky_body = (await client.get("/leaky")).json()
        filtered_body = (await client.get("/filtered")).json()

    assert leaky_body["password_hash"] == "scrypt$secret-hash"
    assert "password_hash" not in filtered_body
    assert filtered_body["created_at"] == "2026-03-01T12:00:00Z"


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"sku": "BK-001", "quantity": 1, "unit_price_cents": 100}] * 51,
        [{"sku": "BK-001", "quantity": 0, "unit_price_cents": 100}],
        [{"sku": "BK-001", "quantity": 1, "unit_price_cents": -1}],
        [{"sku": "", "quantity": 1, "unit_price_cents": 100}],
    ],
)
def test_order_create_rejects(lines):
    with pytest.raises(ValidationError):
        OrderCreate(lines=lines)


def test_order_create_accepts_lines_and_no_total():
    order = OrderCreate(lines=[{"sku": "BK-001", "quantity": 2, "unit_price_cents": 1250}])

    assert order.lines[0].quantity == 2
    assert "total_cents" not in OrderCreate.model_fields


def test_order_read_combines_the_row_and_its_lines():
    order = Order(id=3, user_id=7, total_cents=2500, status=OrderStatus.PAID, created_at=CREATED)
    lines = [OrderLineRead(sku="BK-001", quantity=2, unit_price_cents=1250)]

    read = OrderRead.model_validate({**order.model_dump(), "lines": lines})

    assert read.model_dump(mode="json") == {
        "id": 3,
        "user_id": 7,
        "status": "paid",
        "total_cents": 2500,
        "lines": [{"sku": "BK-001", "quantity": 2, "unit_price_cents": 1250}],
        "created_at": "2026-03-01T12:00:00Z",
    }


def test_page_is_generic():
    page = Page[UserRead](
        items=[UserRead.model_validate(stored_user())], total=1, limit=20, offset=0
    )

    assert page.model_dump(mode="json")["items"][0]["email"] == "ada@example.com"
    with pytest.raises(ValidationError):
        Page[UserRead](items=[{"id": "x"}], total=1, limit=20, offset=0)


@pytest.mark.parametrize("bad", [True, False, "3", 3.5, None])
def test_whole_numbers_take_json_integers_only(bad):
    from pydantic import ValidationError

    from workshop_app.schemas import OrderLineCreate

    assert OrderLineCreate(sku="A", quantity=3.0, unit_price_cents=0).quantity == 3
    with pytest.raises(ValidationError):
        OrderLineCreate(sku="A", quantity=bad, unit_price_cents=0)


@pytest.mark.parametrize("bad", [0, 1, "yes", "false"])
def test_is_active_takes_json_booleans_only(bad):
    from pydantic import ValidationError

    from workshop_app.schemas import UserUpdate

    with pytest.raises(ValidationError):
        UserUpdate(is_active=bad)
