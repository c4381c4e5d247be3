"""Notebook 06's check: every plausible wrong table or schema is refused with its own hint.

Each wrong candidate is the reference solution with one edit, so a test names exactly the
mistake it makes; the correct answers in other styles must pass. Every check runs the
learner's app at this checkpoint (here: the reference app) on an in-memory database.
"""

import time

import exercise_helpers
import pytest
from sqlmodel import Field, SQLModel

from workshop_lab.exercises import check, get_exercise
from workshop_lab.exercises.ex06_data import EXERCISE_ID, SOLUTION

EXERCISE = get_exercise(EXERCISE_ID)
progress_file = exercise_helpers.progress_file  # autouse: checks record progress
variant, hint_for = exercise_helpers.probe(EXERCISE_ID)

MAX_SECONDS = 3.0

PRICE_CHECK = (
    '            sa.CheckConstraint("price_cents >= 0", name="ck_products_price_cents"),\n'
)
COST_CHECK = '            sa.CheckConstraint("cost_cents >= 0", name="ck_products_cost_cents"),\n'
SKU_COLUMN = "sku: str = Field(max_length=64, unique=True)"
NAME_COLUMN = "name: str = Field(max_length=200)"
CREATE_SKU = "sku: str = SchemaField(min_length=1, max_length=64)"
CREATE_NAME = "name: str = SchemaField(min_length=1, max_length=200)"
CREATE_PRICE = "price_cents: int = SchemaField(ge=0)"
CREATE_COST = "cost_cents: int = SchemaField(ge=0)"
READ_TAIL = "        price_cents: int\n\n    return"
RETURN = "return Product, ProductCreate, ProductRead"

WRONG = {
    # the table: what the database must refuse, whatever code writes the row
    "no-unique-sku": (SKU_COLUMN, "sku: str = Field(max_length=64)", "a unique index on sku"),
    "check-refuses-zero": (
        '"price_cents >= 0"',
        '"price_cents > 0"',
        "refused a product priced at 0 cents",
    ),
    "no-price-check": (PRICE_CHECK, "", "stored a product priced at -1 cent"),
    "no-cost-check": (COST_CHECK, "", "stored a product costing -1 cent"),
    "optional-name": (
        NAME_COLUMN,
        "name: str | None = Field(default=None, max_length=200)",
        "whose name is NULL",
    ),
    "sku-without-length": (SKU_COLUMN, "sku: str = Field(unique=True)", "without a length"),
    "name-wrong-length": (NAME_COLUMN, "name: str = Field(max_length=100)", "VARCHAR(100)"),
    "no-cost-column": ("        cost_cents: int  # internal", "        # internal", "`cost_cents`"),
    "check-names-a-missing-column": (
        '"cost_cents >= 0"',
        '"cost >= 0"',
        "could not create your products table (no such column: cost)",
    ),
    # the request schema: what a client may send
    "sku-unbounded": (
        CREATE_SKU,
        "sku: str = SchemaField(min_length=1)",
        "65 characters answered 201",
    ),
    "sku-refuses-its-maximum": (
        CREATE_SKU,
        "sku: str = SchemaField(min_length=1, max_length=63)",
        "exactly 64 characters was refused",
    ),
    "empty-sku-accepted": (CREATE_SKU, "sku: str = SchemaField(max_length=64)", "an empty sku"),
    "name-refuses-its-maximum": (
        CREATE_NAME,
        "name: str = SchemaField(min_length=1, max_length=199)",
        "exactly 200 characters was refused",
    ),
    "name-unbounded": (CREATE_NAME, "name: str", "201 characters answered 201"),
    "price-refuses-zero": (
        CREATE_PRICE,
        "price_cents: int = SchemaField(gt=0)",
        "a price of 0 cents was refused",
    ),
    "negative-price-reaches-the-database": (
        CREATE_PRICE,
        "price_cents: int",
        "a price of -1 cent answered 500 (IntegrityError",
    ),
    "cost-not-accepted": (CREATE_COST, "pass", "ProductCreate has no field `cost_cents`"),
    "create-accepts-id": (
        CREATE_COST,
        CREATE_COST + "\n        id: int | None = None",
        "the database assigns ids",
    ),
    # the response schema: what a client may see
    "read-shows-cost": (
        READ_TAIL,
        "        price_cents: int\n        cost_cents: int\n\n    return",
        "what the shop paid",
    ),
    "read-without-name": (
        "        name: str\n        price_cents: int\n\n",
        "        price_cents: int\n\n",
        "ProductRead has no field `name`",
    ),
    "read-field-not-in-table": (
        READ_TAIL,
        "        price_cents: int\n        stock: int\n\n    return",
        "ProductRead has the field `stock`",
    ),
    # a table model used as a schema: it has every column, internal ones and the id included
    "table-as-request-schema": (RETURN, "return Product, Product, ProductRead", "accepts an id"),
    "table-as-response-schema": (RETURN, "return Product, ProductCreate, Product", "shop paid"),
    "read-cannot-read-a-row": (
        "        model_config = ConfigDict(from_attributes=True)\n\n        id: int\n        sku",
        "        id: int\n        sku",
        "ProductRead.model_validate(row) fails",
    ),
}


@pytest.mark.parametrize(("old", "new", "expected"), WRONG.values(), ids=WRONG.keys())
def test_a_wrong_solution_is_refused_with_a_hint_that_names_the_mistake(old, new, expected):
    candidate = variant(old, new)
    started = time.perf_counter()
    hint = hint_for(candidate)
    assert time.perf_counter() - started < MAX_SECONDS
    assert expected in hint, hint


BOUNDARY_VALIDATOR = """\
from pydantic import BaseModel, ConfigDict, field_validator
from sqlmodel import Field, SQLModel
import sqlalchemy as sa


def product_models():
    class Product(SQLModel, table=True):
        __tablename__ = "products"
        __table_args__ = (
            sa.CheckConstraint("price_cents >= 0"),
            sa.CheckConstraint("cost_cents >= 0"),
        )

        id: int | None = Field(default=None, primary_key=True)
        sku: str = Field(max_length=64, unique=True)
        name: str = Field(max_length=200)
        price_cents: int
        cost_cents: int

    class ProductCreate(BaseModel):
        sku: str
        name: str
        price_cents: int
        cost_cents: int

        @field_validator("sku")
        @classmethod
        def sku_fits(cls, value: str) -> str:
            if not value or len(value) >= 64:  # the mistake: 64 itself is allowed
                raise ValueError("a sku has 1 to 64 characters")
            return value

        @field_validator("name")
        @classmethod
        def name_fits(cls, value: str) -> str:
            if not 1 <= len(value) <= 200:
                raise ValueError("a name has 1 to 200 characters")
            return value

        @field_validator("price_cents", "cost_cents")
        @classmethod
        def not_negative(cls, value: int) -> int:
            if value < 0:
                raise ValueError("amounts are never negative")
            return value

    class ProductRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        sku: str
        name: str
        price_cents: int

    return Product, ProductCreate, ProductRead
"""


def test_a_validator_that_refuses_exactly_the_maximum_is_refused():
    hint = hint_for(EXERCISE.load(BOUNDARY_VALIDATOR))
    assert "a sku of exactly 64 characters was refused" in hint
    assert "a sku has 1 to 64 characters" in hint  # the learner's own message, from the 422


def test_the_same_validator_with_the_right_comparison_passes():
    fixed = BOUNDARY_VALIDATOR.replace(
        "len(value) >= 64:  # the mistake: 64 itself is allowed", "len(value) > 64:"
    )
    assert check(EXERCISE_ID, EXERCISE.load(fixed)).passed


# The SQLModel documentation's style: one base class holds the shared fields and their
# bounds (sqlmodel's Field validates in a class that is not a table), the table and the
# schemas inherit from it; Annotated constraints; unnamed CHECK constraints given as columns.
SQLMODEL_STYLE = """\
from typing import Annotated

import sqlalchemy as sa
from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def product_models():
    class ProductBase(SQLModel):
        sku: Sku = Field(max_length=64, unique=True)
        name: str = Field(min_length=1, max_length=200)
        price_cents: int = Field(ge=0)

    class Product(ProductBase, table=True):
        __tablename__ = "products"
        __table_args__ = (sa.CheckConstraint("price_cents >= 0"),)

        id: int | None = Field(default=None, primary_key=True)
        cost_cents: int = Field(
            sa_column=sa.Column(sa.Integer, sa.CheckConstraint("cost_cents >= 0"), nullable=False)
        )

    class ProductCreate(ProductBase):
        cost_cents: int = Field(ge=0)

    class ProductRead(ProductBase):
        id: int

    return Product, ProductCreate, ProductRead
"""


def test_a_correct_solution_in_another_style_passes():
    started = time.perf_counter()
    result = check(EXERCISE_ID, EXERCISE.load(SQLMODEL_STYLE))
    assert result.passed, result.hint
    assert time.perf_counter() - started < MAX_SECONDS


def test_the_solution_passes_in_time_and_the_starter_gets_the_first_step():
    started = time.perf_counter()
    assert check(EXERCISE_ID, EXERCISE.load(SOLUTION)).passed
    assert time.perf_counter() - started < MAX_SECONDS
    hint = hint_for(EXERCISE.load(EXERCISE.starter))
    assert "has no column `sku`, `name`, `price_cents`, `cost_cents`" in hint
    assert 'lab.hint("06.product_table")' in hint


def test_no_hint_gives_the_answer_away():
    hints = " ".join(EXERCISE.hints)
    for code in ("CheckConstraint", "unique=True", "max_length", "ge=0", "Field("):
        assert code not in hints
    assert "'models/order.py: rules the database enforces'" in EXERCISE.hints[1]


@pytest.mark.filterwarnings("ignore:This declarative base already contains")
def test_passing_the_result_instead_of_the_function():
    models = EXERCISE.load(SOLUTION)()
    try:
        assert "pass the function itself" in hint_for(models)
    finally:
        SQLModel.metadata.remove(models[0].__table__)


def test_an_async_function():
    candidate = variant("def product_models():", "async def product_models():")
    assert "make it a plain `def`" in hint_for(candidate)


def test_returning_two_classes():
    candidate = variant("return Product, ProductCreate, ProductRead", "return Product, ProductRead")
    assert "three classes" in hint_for(candidate)


def test_returning_a_schema_first():
    candidate = variant(
        "return Product, ProductCreate, ProductRead", "return ProductRead, ProductCreate, Product"
    )
    assert "is not a table" in hint_for(candidate)


def test_a_table_left_on_the_metadata_by_an_earlier_cell():
    class Product(SQLModel, table=True):
        __tablename__ = "products"
        id: int | None = Field(default=None, primary_key=True)

    try:
        hint = hint_for(EXERCISE.load(SOLUTION))
    finally:
        SQLModel.metadata.remove(Product.__table__)
    assert "Run `lab.reload_app();` once" in hint


def test_the_check_can_run_again_and_leaves_the_metadata_as_it_was():
    before = set(SQLModel.metadata.tables)
    candidate = EXERCISE.load(SOLUTION)

    results = [check(EXERCISE_ID, candidate).passed for _ in range(2)]
    failed = hint_for(EXERCISE.load(EXERCISE.starter))

    assert results == [True, True]
    assert "has no column" in failed
    assert set(SQLModel.metadata.tables) == before
