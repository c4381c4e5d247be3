"""The business rules, without FastAPI: services on a session over in-memory SQLite.

Nothing here imports FastAPI or builds an app: that the rules can be tested this way
is the point of the service layer (a CLI or a cron job uses them the same way).
"""

import subprocess
import sys
from itertools import product

import pytest
from sqlalchemy import event
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from workshop_app.exceptions import AppError, ConflictError, NotFoundError, ValidationFailed
from workshop_app.models import Order, OrderLine, OrderStatus, User
from workshop_app.schemas import OrderCreate, UserCreate, UserUpdate
from workshop_app.services import (
    EmailTakenError,
    IllegalTransitionError,
    OrderDraft,
    OrderService,
    OrderTooLargeError,
    UserService,
    user_service,
)
from workshop_app.services.order_service import (
    DEFAULT_RULES,
    MAX_ORDER_TOTAL_CENTS,
    TRANSITIONS,
)
from workshop_app.services.user_service import hash_password, verify_password

pytestmark = [pytest.mark.anyio, pytest.mark.all_databases]

PRODUCTION_COST = (user_service.SCRYPT_N, user_service.SCRYPT_R, user_service.SCRYPT_P)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 64x cheaper scrypt: these tests check rules, not resistance to brute force."""
    monkeypatch.setattr(user_service, "SCRYPT_N", 2**8)


PENDING, PAID, SHIPPED, CANCELLED = (
    OrderStatus.PENDING,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.CANCELLED,
)


@pytest.fixture
def users(session: AsyncSession) -> UserService:
    return UserService(session)


@pytest.fixture
def orders(session: AsyncSession) -> OrderService:
    return OrderService(session)


def new_user(email: str = "ada@example.com", full_name: str = "Ada Lovelace") -> UserCreate:
    return UserCreate(email=email, full_name=full_name, password="correct horse")


def new_order(*lines: tuple[str, int, int]) -> OrderCreate:
    lines = lines or (("KB-1", 2, 4999),)
    return OrderCreate(
        lines=[{"sku": s, "quantity": q, "unit_price_cents": p} for s, q, p in lines]
    )


async def count(session: AsyncSession, model: type) -> int:
    return (await session.exec(select(func.count()).select_from(model))).one()


# --- the layering that makes this file possible ------------------------------------------------


def test_importing_the_services_does_not_import_fastapi():
    code = (
        "import sys, workshop_app.services\n"
        "print(sorted(m for m in ('fastapi', 'starlette') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_domain_errors_carry_their_status_and_code():
    assert issubclass(EmailTakenError, ConflictError) and EmailTakenError.code == "EMAIL_TAKEN"
    assert issubclass(IllegalTransitionError, ConflictError)
    assert IllegalTransitionError.status_code == 409
    assert IllegalTransitionError.code == "ILLEGAL_TRANSITION"
    assert issubclass(OrderTooLargeError, ValidationFailed)
    assert (OrderTooLargeError.status_code, OrderTooLargeError.code) == (422, "ORDER_TOO_LARGE")


# --- passwords ---------------------------------------------------------------------------------


def test_a_password_hash_is_salted_and_verifiable():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$") and "correct horse" not in first
    assert first != second  # a random salt per hash
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsE", first)


def test_hashes_record_the_production_cost(monkeypatch):
    monkeypatch.setattr(user_service, "SCRYPT_N", PRODUCTION_COST[0])
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and PRODUCTION_COST == (2**14, 8, 1)
    assert verify_password("correct horse", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "!",
        "",
        "scrypt$x",
        "bcrypt$16384$8$1$AAAA$AAAA",
        "scrypt$n$8$1$AAAA$AAAA",
        "scrypt$3$8$1$AA$AA",
    ],
)
def test_a_malformed_or_foreign_hash_never_verifies(stored):
    assert verify_password("anything", stored) is False


# --- users -------------------------------------------------------------------------------------


async def test_create_stores_a_lower_cased_email_and_only_a_hash(users, session):
    user = await users.create(new_user("Ada@Example.COM"))
    assert user.id is not None and user.email == "ada@example.com"
    assert user.is_active is True and user.created_at.tzinfo is not None
    assert user.password_hash != "correct horse"
    assert verify_password("correct horse", user.password_hash)


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@example.com"])
async def test_a_taken_email_is_refused_whatever_its_case(users, session, email):
    await users.create(new_user("ada@example.com"))
    with pytest.raises(EmailTakenError, match="ada@example.com already exists"):
        await users.create(new_user(email))
    assert await count(session, User) == 1


async def test_the_unique_index_catches_a_race_the_check_missed(users, session, monkeypatch):
    await users.create(new_user())
    await session.commit()

    async def nobody(email: str) -> None:  # another request inserted between check and write
        return None

    monkeypatch.setattr(users, "_find_by_email", nobody)
    with pytest.raises(EmailTakenError):
        await users.create(new_user())
    # The failed flush was rolled back: the session is usable, the first user is intact.
    assert await count(session, User) == 1


async def test_get_returns_the_user_or_raises_not_found(users):
    user = await users.create(new_user())
    assert (await users.get(user.id)).email == "ada@example.com"
    with pytest.raises(NotFoundError, match="User 999 does not exist"):
        await users.get(999)


@pytest.fixture
async def five_users(users, session) -> list[User]:
    created = []
    for name in ["ada", "bob", "cy_x", "dee%", "eve"]:
        created.append(await users.create(new_user(f"{name}@example.com", name.title())))
    created[1].is_active = False
    session.add(created[1])
    await session.flush()
    return created


async def test_list_pages_in_id_order_with_the_total(users, five_users):
    items, total = await users.list(limit=2, offset=1)
    assert [u.email for u in items] == ["bob@example.com", "cy_x@example.com"]
    assert total == 5
    items, total = await users.list(limit=10, offset=5)
    assert (items, total) == ([], 5)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"email_contains": "EXAMPLE"}, ["ada", "bob", "cy_x", "dee%", "eve"]),
        ({"email_contains": "E"}, ["ada", "bob", "cy_x", "dee%", "eve"]),
        ({"email_contains": "ee"}, ["dee%"]),
        ({"email_contains": "%"}, ["dee%"]),  # a literal %, not a wildcard
        ({"email_contains": "_"}, ["cy_x"]),  # a literal _, not "any character"
        ({"email_contains": "zzz"}, []),
        ({"email_contains": ""}, ["ada", "bob", "cy_x", "dee%", "eve"]),
        ({"is_active": False}, ["bob"]),
        ({"is_active": True}, ["ada", "cy_x", "dee%", "eve"]),
        ({"is_active": True, "email_contains": "e"}, ["ada", "cy_x", "dee%", "eve"]),
        ({"is_active": False, "email_contains": "ada"}, []),
    ],
)
async def test_list_filters(users, five_users, filters, expected):
    items, total = await users.list(limit=100, offset=0, **filters)
    assert [u.email.split("@")[0] for u in items] == expected
    assert total == len(expected)


async def test_update_changes_only_the_fields_sent(users):
    user = await users.create(new_user())
    updated = await users.update(user.id, UserUpdate(is_active=False))
    assert (updated.full_name, updated.is_active) == ("Ada Lovelace", False)
    updated = await users.update(user.id, UserUpdate(full_name="Augusta Ada King"))
    assert (updated.full_name, updated.is_active) == ("Augusta Ada King", False)
    unchanged = await users.update(user.id, UserUpdate())
    assert (unchanged.full_name, unchanged.is_active) == ("Augusta Ada King", False)


async def test_update_treats_null_as_keep_the_current_value(users):
    user = await users.create(new_user())
    kept = await users.update(user.id, UserUpdate(full_name=None, is_active=None))
    assert (kept.full_name, kept.is_active) == ("Ada Lovelace", True)
    mixed = await users.update(user.id, UserUpdate(full_name=None, is_active=False))
    assert (mixed.full_name, mixed.is_active) == ("Ada Lovelace", False)


async def test_update_and_delete_of_a_missing_user_raise_not_found(users):
    with pytest.raises(NotFoundError):
        await users.update(42, UserUpdate(full_name="Nobody"))
    with pytest.raises(NotFoundError):
        await users.delete(42)


async def test_delete_removes_the_user_and_their_orders(users, orders, session):
    ada, bob = await users.create(new_user()), await users.create(new_user("bob@example.com"))
    await orders.create(ada.id, new_order())
    kept = await orders.create(bob.id, new_order())
    await users.delete(ada.id)
    session.expunge_all()  # read from the database, not from the session's identity map
    assert [u.id for u in (await users.list(limit=10, offset=0))[0]] == [bob.id]
    assert list(await session.exec(select(Order.id))) == [kept.order.id]
    assert await count(session, OrderLine) == 1


async def test_services_flush_but_the_caller_owns_the_transaction(engine, users, session):
    user = await users.create(new_user())
    assert user.id is not None  # flushed: the database assigned the id
    await session.rollback()
    async with AsyncSession(engine) as other:
        assert await count(other, User) == 0


# --- orders: creation --------------------------------------------------------------------------


async def test_an_order_is_pending_with_a_total_computed_from_its_lines(users, orders, session):
    user = await users.create(new_user())
    details = await orders.create(user.id, new_order(("KB-1", 2, 4999), ("MS-2", 1, 1999)))
    assert details.order.user_id == user.id and details.order.status is PENDING
    assert details.order.total_cents == 2 * 4999 + 1999
    assert [(line.sku, line.quantity, line.unit_price_cents) for line in details.lines] == [
        ("KB-1", 2, 4999),
        ("MS-2", 1, 1999),
    ]
    assert {line.order_id for line in details.lines} == {details.order.id}
    assert await count(session, OrderLine) == 2


async def test_an_order_for_a_missing_user_is_refused_and_nothing_is_written(orders, session):
    with pytest.raises(NotFoundError, match="User 7 does not exist"):
        await orders.create(7, new_order())
    assert await count(session, Order) == 0


async def test_the_total_limit_is_inclusive(users, orders, session):
    user = await users.create(new_user())
    at_limit = await orders.create(user.id, new_order(("BIG", 1, MAX_ORDER_TOTAL_CENTS)))
    assert at_limit.order.total_cents == MAX_ORDER_TOTAL_CENTS
    with pytest.raises(OrderTooLargeError, match=f"limit is {MAX_ORDER_TOTAL_CENTS} cents"):
        await orders.create(user.id, new_order(("BIG", 1, MAX_ORDER_TOTAL_CENTS + 1)))
    assert await count(session, Order) == 1


async def test_a_total_beyond_64_bits_is_refused_before_the_database_sees_it(users, orders):
    user = await users.create(new_user())
    with pytest.raises(OrderTooLargeError):
        await orders.create(user.id, new_order(("HUGE", 10_000, 10**30)))


async def test_rules_see_the_draft_in_order_and_a_refusal_writes_nothing(users, session):
    user = await users.create(new_user())
    seen: list[tuple[str, OrderDraft]] = []

    async def record(session: AsyncSession, draft: OrderDraft) -> None:
        seen.append(("record", draft))

    async def refuse(session: AsyncSession, draft: OrderDraft) -> None:
        seen.append(("refuse", draft))
        raise ConflictError("No orders today.")

    service = OrderService(session, rules=[record, refuse])
    with pytest.raises(ConflictError, match="No orders today"):
        await service.create(user.id, new_order(("KB-1", 3, 100)))
    assert [name for name, _ in seen] == ["record", "refuse"]
    draft = seen[0][1]
    assert (draft.user_id, draft.total_cents, [line.sku for line in draft.lines]) == (
        user.id,
        300,
        ["KB-1"],
    )
    assert await count(session, Order) == 0


async def test_the_default_rules_apply_unless_replaced(users, session):
    user = await users.create(new_user())
    assert OrderService(session).rules == DEFAULT_RULES
    huge = new_order(("BIG", 1, MAX_ORDER_TOTAL_CENTS + 1))
    no_rules = await OrderService(session, rules=()).create(user.id, huge)
    assert no_rules.order.total_cents == MAX_ORDER_TOTAL_CENTS + 1


# --- orders: reading ---------------------------------------------------------------------------


async def test_get_returns_the_order_with_its_own_lines(users, orders):
    user = await users.create(new_user())
    first = await orders.create(user.id, new_order(("A", 1, 1)))
    await orders.create(user.id, new_order(("B", 1, 2), ("C", 1, 3)))
    got = await orders.get(first.order.id)
    assert got.order.id == first.order.id and [line.sku for line in got.lines] == ["A"]
    with pytest.raises(NotFoundError, match="Order 999 does not exist"):
        await orders.get(999)


async def test_list_for_user_pages_newest_first_with_only_their_orders(users, orders):
    ada, bob = await users.create(new_user()), await users.create(new_user("bob@example.com"))
    ada_ids = [(await orders.create(ada.id, new_order((f"A{i}", 1, i)))).order.id for i in range(5)]
    await orders.create(bob.id, new_order(("BOB", 1, 1)))
    items, total = await orders.list_for_user(ada.id, limit=2, offset=1)
    assert total == 5
    assert [d.order.id for d in items] == [ada_ids[3], ada_ids[2]]
    assert [[line.sku for line in d.lines] for d in items] == [["A3"], ["A2"]]
    items, total = await orders.list_for_user(bob.id, limit=10, offset=0)
    assert (total, [d.lines[0].sku for d in items]) == (1, ["BOB"])


async def test_list_for_user_filters_by_status(users, orders):
    user = await users.create(new_user())
    ids = [(await orders.create(user.id, new_order())).order.id for _ in range(3)]
    await orders.pay(ids[0])
    await orders.cancel(ids[1])
    paid, total = await orders.list_for_user(user.id, limit=10, offset=0, status=PAID)
    assert ([d.order.id for d in paid], total) == ([ids[0]], 1)
    pending, _ = await orders.list_for_user(user.id, limit=10, offset=0, status=PENDING)
    assert [d.order.id for d in pending] == [ids[2]]
    shipped, total = await orders.list_for_user(user.id, limit=10, offset=0, status=SHIPPED)
    assert (shipped, total) == ([], 0)


async def test_list_for_a_missing_user_is_not_found_rather_than_empty(orders):
    with pytest.raises(NotFoundError, match="User 3 does not exist"):
        await orders.list_for_user(3, limit=10, offset=0)


async def test_the_lines_of_a_page_come_from_one_query(users, orders, engine):
    user = await users.create(new_user())
    for i in range(6):
        await orders.create(user.id, new_order((f"S{i}", 1, 1), (f"T{i}", 2, 2)))
    statements: list[str] = []

    def remember(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", remember)
    try:
        items, _ = await orders.list_for_user(user.id, limit=6, offset=0)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", remember)
    assert all(len(d.lines) == 2 for d in items)
    assert sum("FROM order_lines" in s for s in statements) == 1


# --- orders: the state machine -----------------------------------------------------------------

ALLOWED = {(PENDING, PAID), (PAID, SHIPPED), (PENDING, CANCELLED), (PAID, CANCELLED)}
PATHS = {PENDING: [], PAID: [PAID], SHIPPED: [PAID, SHIPPED], CANCELLED: [CANCELLED]}
ACTIONS = {PAID: "pay", SHIPPED: "ship", CANCELLED: "cancel"}


def test_the_transition_table_is_exactly_the_documented_one():
    table = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(("source", "target"), list(product(OrderStatus, ACTIONS)))
async def test_every_transition_is_allowed_or_refused(users, orders, session, source, target):
    user = await users.create(new_user())
    order_id = (await orders.create(user.id, new_order())).order.id
    for step in PATHS[source]:
        await getattr(orders, ACTIONS[step])(order_id)
    action = getattr(orders, ACTIONS[target])
    if (source, target) in ALLOWED:
        details = await action(order_id)
        assert details.order.status is target and len(details.lines) == 1
    else:
        with pytest.raises(IllegalTransitionError) as caught:
            await action(order_id)
        assert caught.value.message == (
            f"Order {order_id} is {source.value}; it cannot become {target.value}."
        )
    session.expunge_all()
    stored = await session.get(Order, order_id)
    expected = target if (source, target) in ALLOWED else source
    assert stored.status is expected


@pytest.mark.parametrize("action", ["pay", "ship", "cancel"])
async def test_a_transition_of_a_missing_order_is_not_found(orders, action):
    with pytest.raises(NotFoundError, match="Order 5 does not exist"):
        await getattr(orders, action)(5)


def test_every_domain_error_is_an_app_error():
    for error in (EmailTakenError, IllegalTransitionError, OrderTooLargeError):
        assert issubclass(error, AppError)
