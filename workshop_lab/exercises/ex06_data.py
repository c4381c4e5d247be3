"""Exercise of notebook 06 (the data layer): a table, the rules it enforces, and its two shapes.

The learner's function declares the ``products`` table of a catalogue and its request and
response schemas. The check tries them the way production would: it builds the learner's
app (the workspace package at this checkpoint) with two throwaway routes on ``SessionDep``,
lets its lifespan create the table, writes bad rows with raw SQL (the database must refuse
them, whatever the schemas say), posts products at and just past every bound (the API must
answer 422 before the database is reached), and reads rows back through the read schema.

The check declares the learner's table afresh on every run and takes it off
``SQLModel.metadata`` afterwards, so re-running the cell never meets "Table 'products' is
already defined". No ``from __future__ import annotations``: FastAPI reads the annotations
of the routes below at runtime.
"""

import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError, InvalidRequestError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..client import app_client
from ._base import Exercise, ExerciseFailed, StateSpy, learner_app, plain_result

NOTEBOOK_ID = "06_data"
EXERCISE_ID = "06.product_table"

STARTER = '''\
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel


def product_models():
    """Declare the products table and its schemas; return (Product, ProductCreate, ProductRead)."""

    class Product(SQLModel, table=True):
        __tablename__ = "products"
        # TODO 1: the rules the database enforces for every writer: no negative price and
        #         no negative cost (0 is allowed)

        id: int | None = Field(default=None, primary_key=True)
        # TODO 2: sku (unique, at most 64 characters), name (at most 200 characters),
        #         price_cents and cost_cents (whole cents)

    class ProductCreate(BaseModel):
        # TODO 3: what the catalogue team sends: sku (1 to 64 characters), name (1 to 200
        #         characters), price_cents and cost_cents (0 or more)
        pass

    class ProductRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        # TODO 4: what customers see: sku, name and price_cents; never the cost

    return Product, ProductCreate, ProductRead
'''

SOLUTION = '''\
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel


def product_models():
    """Declare the products table and its schemas; return (Product, ProductCreate, ProductRead)."""

    class Product(SQLModel, table=True):
        __tablename__ = "products"
        __table_args__ = (
            sa.CheckConstraint("price_cents >= 0", name="ck_products_price_cents"),
            sa.CheckConstraint("cost_cents >= 0", name="ck_products_cost_cents"),
        )

        id: int | None = Field(default=None, primary_key=True)
        sku: str = Field(max_length=64, unique=True)  # a UNIQUE index: races cannot pass it
        name: str = Field(max_length=200)
        price_cents: int
        cost_cents: int  # internal: what the shop paid the supplier

    class ProductCreate(BaseModel):
        # Table models do not validate: the bounds a request meets are these.
        sku: str = SchemaField(min_length=1, max_length=64)
        name: str = SchemaField(min_length=1, max_length=200)
        price_cents: int = SchemaField(ge=0)
        cost_cents: int = SchemaField(ge=0)

    class ProductRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        sku: str
        name: str
        price_cents: int

    return Product, ProductCreate, ProductRead
'''

COLUMNS = ("sku", "name", "price_cents", "cost_cents")
LENGTHS = {"sku": 64, "name": 200}
CREATE_FIELDS = ("sku", "name", "price_cents", "cost_cents")
READ_FIELDS = ("id", "sku", "name", "price_cents")
INTERNAL = "cost_cents"

# Two real products, so that an answer that happens to fit one of them fails on the other.
PRODUCTS = (
    {"sku": "MUG-CER-350", "name": "Ceramic mug, 350 ml", "price_cents": 1450, "cost_cents": 610},
    {"sku": "CAP-WOOL", "name": "Wool cap", "price_cents": 2900, "cost_cents": 1175},
)
# What the API must accept (at a bound) or refuse (just past it): (what, field, value, status).
BOUNDS = (
    ("a sku of exactly 64 characters", "sku", "S" * 64, 201),
    ("a sku of 65 characters", "sku", "S" * 65, 422),
    ("an empty sku", "sku", "", 422),
    ("a name of exactly 200 characters", "name", "N" * 200, 201),
    ("a name of 201 characters", "name", "N" * 201, 422),
    ("an empty name", "name", "", 422),
    ("a price of 0 cents", "price_cents", 0, 201),
    ("a price of -1 cent", "price_cents", -1, 422),
    ("a cost of 0 cents", "cost_cents", 0, 201),
    ("a cost of -1 cent", "cost_cents", -1, 422),
)


# --- the learner's function and what it declares ----------------------------------------


def _declare(candidate: Any) -> tuple[type, type, type]:
    """Call the learner's function and check that it returned three classes, in order."""
    if isinstance(candidate, tuple):
        raise ExerciseFailed(
            "You passed a tuple; pass the function itself: "
            f"lab.check({EXERCISE_ID!r}, product_models), without parentheses."
        )
    if not callable(candidate) or inspect.isclass(candidate):
        raise ExerciseFailed(
            f"Expected the function product_models, got {type(candidate).__name__}. Keep the "
            "three classes inside `def product_models():` and return them."
        )
    with warnings.catch_warnings():
        # Declaring the class again, on every check, is what we want here.
        warnings.filterwarnings("ignore", message=r"This declarative base already contains")
        try:
            declared = candidate()
        except InvalidRequestError as exc:
            if "already defined" not in str(exc):
                raise
            raise ExerciseFailed(
                "A table with this name is already on SQLModel.metadata: an earlier cell "
                "declared it outside product_models(). Run `lab.reload_app();` once, keep the "
                "classes inside the function, and check again."
            ) from None
    plain_result(declared, "product_models is `async def`; make it a plain `def`.")
    if not (isinstance(declared, tuple) and len(declared) == 3):
        raise ExerciseFailed(
            "product_models() must end with `return Product, ProductCreate, ProductRead` "
            f"(three classes); it returned {type(declared).__name__}."
        )
    if not all(inspect.isclass(item) and issubclass(item, BaseModel) for item in declared):
        raise ExerciseFailed(
            "product_models() must return three model classes, in the order "
            "Product, ProductCreate, ProductRead."
        )
    return declared


def _table(product: type) -> sa.Table:
    table = getattr(product, "__table__", None)
    if not isinstance(table, sa.Table):
        raise ExerciseFailed(
            f"{product.__name__}, the first class returned, is not a table: declare it "
            "`class Product(SQLModel, table=True):` (and return it first)."
        )
    return table


@contextmanager
def _tables_forgotten_afterwards() -> Iterator[None]:
    """Take the tables the learner's code declares off the shared metadata when done.

    The next run of the cell can then declare them again, even after a failed check, and
    the learner's next app does not create a table left over from the exercise.
    """
    before = set(SQLModel.metadata.tables)
    try:
        yield
    finally:
        for name in set(SQLModel.metadata.tables) - before:
            SQLModel.metadata.remove(SQLModel.metadata.tables[name])


def _check_columns(table: sa.Table) -> None:
    missing = [name for name in COLUMNS if name not in table.columns]
    if missing:
        raise ExerciseFailed(
            f"The {table.name} table has no column {_names(missing)}: Product declares the "
            "columns, one annotated attribute each."
        )
    for name, length in LENGTHS.items():
        declared = getattr(table.columns[name].type, "length", None)
        if declared != length:
            shown = f"VARCHAR({declared})" if declared else "a text column without a length"
            raise ExerciseFailed(
                f"{table.name}.{name} is {shown}; it should hold at most {length} characters, "
                f"VARCHAR({length}), which PostgreSQL enforces. The bound on the table and the "
                "bound on the request schema are declared separately."
            )


def _check_schemas(table: sa.Table, create: type, read: type) -> None:
    create_fields, read_fields = set(create.model_fields), set(read.model_fields)
    if INTERNAL in read_fields:
        raise ExerciseFailed(
            f"ProductRead has a {INTERNAL} field, so every response would show what the shop "
            "paid. A response schema lists what a client may see: leave the cost out of it."
        )
    if "id" in create_fields:
        raise ExerciseFailed(
            "ProductCreate accepts an id; the database assigns ids, so a client never sends one."
        )
    if missing := [name for name in CREATE_FIELDS if name not in create_fields]:
        raise ExerciseFailed(
            f"ProductCreate has no field {_names(missing)}, so FastAPI would drop it from the "
            "request body: the catalogue team sends sku, name, price_cents and cost_cents."
        )
    if missing := [name for name in READ_FIELDS if name not in read_fields]:
        raise ExerciseFailed(
            f"ProductRead has no field {_names(missing)}, so responses leave it out: customers "
            "see id, sku, name and price_cents."
        )
    for schema, fields in (("ProductCreate", create_fields), ("ProductRead", read_fields)):
        if extra := sorted(fields - set(table.columns.keys())):
            raise ExerciseFailed(
                f"{schema} has the field {_names(extra)}, which the {table.name} table does not "
                "have: "
                "every field of a schema is copied to or read from a column of the row."
            )


async def _check_ddl(table: sa.Table) -> None:
    """Create the table once on a scratch database, to report bad DDL as the learner's."""
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(table.create)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise ExerciseFailed(
            f"The database could not create your {table.name} table ({reason}). Check that "
            "every constraint names columns the table really has."
        ) from None
    finally:
        await engine.dispose()


def _names(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


# --- the app, with two throwaway routes ---------------------------------------------------


class _Catalogue:
    """The learner's app (this checkpoint's create_app) with POST and GET /products.

    The 500 handler is replaced by one that remembers the exception, so that a hint can
    name it: the app's own handler would log it, and the learner would see only "500".
    """

    def __init__(self, product: type, create: type, read: type) -> None:
        from workshop_app.dependencies import SessionDep

        app = learner_app()
        self.errors: list[BaseException] = []

        @app.post("/products", status_code=201, response_model=read)
        async def create_product(body: create, session: SessionDep) -> Any:  # type: ignore[valid-type]
            row = product(**body.model_dump())
            session.add(row)
            await session.flush()  # the INSERT runs here; the database assigns the id
            return row

        @app.get("/products/{product_id}", response_model=read)
        async def read_product(product_id: int, session: SessionDep) -> Any:
            return await session.get(product, product_id)

        async def remember(request: Any, exc: Exception) -> JSONResponse:
            self.errors.append(exc)
            return JSONResponse({"error": {"code": "INTERNAL_ERROR"}}, status_code=500)

        app.add_exception_handler(Exception, remember)
        self.spy = StateSpy(app)

    def engine(self) -> AsyncEngine:
        assert self.spy.state is not None, "a request runs first"
        return self.spy.state["engine"]

    def last_error(self) -> str:
        if not self.errors:
            return "no exception reached the app's handler"
        exc = self.errors[-1]
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"{type(exc).__name__}: {reason[0][:200]}" if reason else type(exc).__name__


def _server_error(catalogue: _Catalogue, action: str) -> ExerciseFailed:
    return ExerciseFailed(
        f"{action} answered 500 ({catalogue.last_error()}). Your table and your schemas do "
        "not fit together: ProductCreate's values must make a valid Product row, and "
        "ProductRead must find each of its fields on that row."
    )


# --- what the database refuses ------------------------------------------------------------


async def _insert(engine: AsyncEngine, table: sa.Table, **values: Any) -> IntegrityError | None:
    """Write one row with raw SQL, bypassing every schema; the database's refusal, if any."""
    try:
        async with engine.begin() as connection:
            await connection.execute(table.insert().values(**values))
    except IntegrityError as exc:
        return exc
    return None


def _raw(**changes: Any) -> dict[str, Any]:
    return {"sku": "RAW-1", "name": "Raw row", "price_cents": 0, "cost_cents": 0} | changes


async def _database_refuses(engine: AsyncEngine, table: sa.Table) -> None:
    if refused := await _insert(engine, table, **_raw()):
        if "CHECK" in str(refused.orig).upper():
            raise ExerciseFailed(
                f"The database refused a product priced at 0 cents with a cost of 0 "
                f"({refused.orig}). Zero is allowed (a free sample): the rules refuse negative "
                "amounts only."
            )
        raise ExerciseFailed(
            f"The database refused a valid product written with raw SQL: sku, name, a price "
            f"and a cost of 0, nothing else ({refused.orig}). A column the exercise does not "
            "ask for needs a default the database knows, or no place in Product."
        )
    if not await _insert(engine, table, **_raw(name="Same sku")):
        raise ExerciseFailed(
            "The database stored a second product with sku 'RAW-1'. Checking in Python first "
            "is a race between two requests; only the database can refuse the second row, "
            "with a unique index on sku."
        )
    for column, what in (("price_cents", "priced at -1 cent"), ("cost_cents", "costing -1 cent")):
        if not await _insert(engine, table, **_raw(sku=f"RAW-{column}", **{column: -1})):
            raise ExerciseFailed(
                f"The database stored a product {what}, written with raw SQL as a script or "
                f"a migration would. A request schema does not protect {column} from such "
                "code: the table itself needs a rule that refuses negative values."
            )
    for column in COLUMNS:
        if not await _insert(engine, table, **_raw(sku=f"RAW-NULL-{column}") | {column: None}):
            raise ExerciseFailed(
                f"The database stored a product whose {column} is NULL: every product has one, "
                f"so {column} must not be optional in Product."
            )
    async with engine.connect() as connection:
        stored = (await connection.execute(sa.select(table.c.sku))).scalars().all()
    if stored != ["RAW-1"]:
        raise ExerciseFailed(
            f"After the refused rows the table holds {stored}, expected only ['RAW-1']: a "
            "refused row must leave nothing behind."
        )


# --- what the API accepts, shows and refuses ----------------------------------------------


def _json(catalogue: _Catalogue, response: httpx.Response, action: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise _server_error(catalogue, action)
    return response.json()


def _shown(body: dict[str, Any], sent: dict[str, Any], action: str) -> None:
    if INTERNAL in body:
        raise ExerciseFailed(
            f"{action} answered with {INTERNAL}: customers must not see what the shop paid. "
            "The response schema decides what leaves."
        )
    wrong = {name: body.get(name) for name in READ_FIELDS[1:] if body.get(name) != sent[name]}
    if wrong or not isinstance(body.get("id"), int):
        raise ExerciseFailed(
            f"{action} answered {body}, expected the id with sku={sent['sku']!r}, "
            f"name={sent['name']!r} and price_cents={sent['price_cents']}: each value must be "
            "stored in its own column and read back from it."
        )


async def _round_trip(client: httpx.AsyncClient, catalogue: _Catalogue, table: sa.Table) -> None:
    for sent in PRODUCTS:
        created = await client.post("/products", json=sent)
        body = _json(catalogue, created, "POST /products")
        if created.status_code != 201:
            raise ExerciseFailed(
                f"POST /products with a valid product ({sent['sku']}) answered "
                f"{created.status_code}: {_details(body)}. ProductCreate must accept sku, name, "
                "price_cents and cost_cents."
            )
        _shown(body, sent, "POST /products")
        fetched = await client.get(f"/products/{body['id']}")
        _shown(_json(catalogue, fetched, "GET /products/{id}"), sent, "GET /products/{id}")
    skus = [sent["sku"] for sent in PRODUCTS]
    query = sa.select(table.c.sku, table.c.cost_cents).where(table.c.sku.in_(skus))
    async with catalogue.engine().connect() as connection:
        costs = {sku: cost for sku, cost in (await connection.execute(query)).all()}
    expected = {sent["sku"]: sent["cost_cents"] for sent in PRODUCTS}
    if costs != expected:
        raise ExerciseFailed(
            f"The rows hold the costs {costs}, expected {expected}: the cost is internal, but "
            "it must still be stored."
        )


async def _reads_a_row(catalogue: _Catalogue, product: type, read: type) -> None:
    """A service returns ``ProductRead.model_validate(row)``: it must read a row's attributes."""
    async with AsyncSession(catalogue.engine()) as session:
        row = (await session.exec(select(product).limit(1))).one()
        try:
            read.model_validate(row)
        except ValidationError:
            raise ExerciseFailed(
                "ProductRead.model_validate(row) fails on a Product row: a response schema "
                "reads the row's attributes, which pydantic does only when the model's config "
                "allows it (the starter's model_config line)."
            ) from None


def _details(body: dict[str, Any]) -> str:
    details = body.get("error", {}).get("details") or []
    return "; ".join(f"{d.get('field')}: {d.get('message')}" for d in details) or str(body)


async def _api_validates(client: httpx.AsyncClient, catalogue: _Catalogue) -> None:
    for number, (what, field, value, expected) in enumerate(BOUNDS, start=1):
        sent = {**PRODUCTS[0], "sku": f"BOUND-{number}", field: value}
        response = await client.post("/products", json=sent)
        if response.status_code == expected:
            continue
        action = f"POST /products with {what}"
        if expected == 422 and response.status_code == 500:
            raise ExerciseFailed(
                f"{action} answered 500 ({catalogue.last_error()}), not 422. The database "
                "refused the row, as it should, but a client's mistake must be answered 422 "
                "by the request schema, before any code touches the database."
            )
        body = _json(catalogue, response, action)
        if expected == 201:
            raise ExerciseFailed(
                f"{action} was refused ({response.status_code}: {_details(body)}). That value "
                "is allowed: a bound is inclusive, and the value at the bound itself must pass."
            )
        why = (
            "Nothing in the table refuses an empty string"
            if value == ""
            else "A table model does not validate, and SQLite does not check VARCHAR lengths"
        )
        raise ExerciseFailed(
            f"{action} answered {response.status_code}, not 422. {why}: the request schema "
            "must refuse the value before any code touches the database."
        )


async def verify_product_table(candidate: Any) -> None:
    with _tables_forgotten_afterwards():
        product, create, read = _declare(candidate)
        table = _table(product)
        _check_columns(table)
        _check_schemas(table, create, read)
        await _check_ddl(table)
        catalogue = _Catalogue(product, create, read)
        async with app_client(catalogue.spy) as client:
            await client.get("/health/live")  # the spy keeps the lifespan state: the engine
            await _database_refuses(catalogue.engine(), table)
            await _round_trip(client, catalogue, table)
            await _reads_a_row(catalogue, product, read)
            await _api_validates(client, catalogue)


EXERCISES = (
    Exercise(
        id=EXERCISE_ID,
        notebook_id=NOTEBOOK_ID,
        title="A table, its rules and its two shapes",
        instructions=(
            "Complete product_models() for a catalogue. Product, the table: a unique sku of at "
            "most 64 characters, a name of at most 200, price_cents and cost_cents, which the "
            "database itself refuses when negative (0 is allowed). ProductCreate, what the "
            "catalogue team sends: all four, with the same bounds, plus at least one character "
            "for sku and name. ProductRead, what customers see: id, sku, name and price_cents, "
            "never cost_cents."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="product_models",
        verify=verify_product_table,
        success=(
            "The database refuses duplicate skus, negative amounts and missing values; the API "
            "accepts every bound and refuses one past it; the cost is stored and never shown."
        ),
        hints=(
            "Each rule lives where it holds for everyone. What must never be stored (a second "
            "sku, a negative amount) is a constraint of the table, checked by the database for "
            "every writer. What a client may send is the request schema's job, because a table "
            "model does not validate. What a client may see is the response schema's job.",
            "This notebook shows all three for orders and users: the sections "
            "'models/order.py: rules the database enforces' and 'Schemas: what clients send "
            "and see', then 'response_model keeps password_hash in the database'.",
        ),
    ),
)
