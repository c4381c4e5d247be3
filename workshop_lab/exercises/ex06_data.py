"""Exercise of notebook 05 (the data layer): add a field end to end, keep an internal one hidden.

The learner's function declares a table model and its two schemas. The check builds a
small app on its own in-memory database, creates the table, posts and reads members, and
looks at the stored row. It declares the learner's table afresh on every run, then takes it
off ``SQLModel.metadata`` again, so re-running the cell never meets "Table 'members' is
already defined". No `from __future__ import annotations`: FastAPI introspects the
endpoints below at runtime.
"""

import inspect
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from ..client import app_client
from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "06_data"

STARTER = '''\
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel


def member_models():
    """Declare the members table and its API schemas; return (Member, MemberCreate, MemberRead)."""

    class Member(SQLModel, table=True):
        __tablename__ = "members"

        id: int | None = Field(default=None, primary_key=True)
        email: str = Field(max_length=320, unique=True)
        # TODO 1: a public `nickname`: optional, at most 40 characters
        # TODO 2: an internal `signup_ip` (str, at most 45 characters), set by the server

    class MemberCreate(BaseModel):
        email: str
        # TODO 3: accept the nickname, with the same bound

    class MemberRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        email: str
        # TODO 4: return the nickname, and nothing internal

    return Member, MemberCreate, MemberRead
'''

SOLUTION = '''\
from pydantic import BaseModel, ConfigDict
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel


def member_models():
    """Declare the members table and its API schemas; return (Member, MemberCreate, MemberRead)."""

    class Member(SQLModel, table=True):
        __tablename__ = "members"

        id: int | None = Field(default=None, primary_key=True)
        email: str = Field(max_length=320, unique=True)
        nickname: str | None = Field(default=None, max_length=40)  # NULL for existing rows
        signup_ip: str = Field(max_length=45)  # internal: kept for fraud checks

    class MemberCreate(BaseModel):
        email: str
        # Table models do not validate: the bound the client meets is this one.
        nickname: str | None = SchemaField(default=None, max_length=40)

    class MemberRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        email: str
        nickname: str | None

    return Member, MemberCreate, MemberRead
'''

CLIENT_IP = "127.0.0.1"  # what httpx.ASGITransport reports as the client address
LONG_NICKNAME = "n" * 41


def _declare(candidate: Any) -> tuple[type, type, type]:
    """Call the learner's function and check that it returned three classes, in order."""
    if isinstance(candidate, tuple):
        raise ExerciseFailed(
            "You passed a tuple; pass the function itself: "
            "check('06.add_field', member_models) - no parentheses."
        )
    if not callable(candidate) or inspect.isclass(candidate):
        raise ExerciseFailed(
            f"Expected the function member_models, got {type(candidate).__name__}. Keep the "
            "three classes inside `def member_models():` and return them."
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
                "declared it outside member_models(). Run `lab.reload_app();` once, keep the "
                "classes inside the function, and check again."
            ) from None
    if inspect.iscoroutine(declared):
        declared.close()  # never awaited on purpose: no "never awaited" warning
        raise ExerciseFailed("member_models is `async def`; make it a plain `def`.")
    if not (isinstance(declared, tuple) and len(declared) == 3):
        raise ExerciseFailed(
            "member_models() must end with `return Member, MemberCreate, MemberRead` "
            f"(three classes); it returned {type(declared).__name__}."
        )
    if not all(inspect.isclass(item) and issubclass(item, BaseModel) for item in declared):
        raise ExerciseFailed(
            "member_models() must return three model classes, in the order "
            "Member, MemberCreate, MemberRead."
        )
    return declared


def _table(member: type) -> sa.Table:
    table = getattr(member, "__table__", None)
    if not isinstance(table, sa.Table):
        raise ExerciseFailed(
            f"{member.__name__}, the first class returned, is not a table: declare it "
            "`class Member(SQLModel, table=True):` (and return it first)."
        )
    return table


@contextmanager
def _tables_forgotten_afterwards() -> Iterator[None]:
    """Take the tables the learner's code declares off the shared metadata when done.

    The next run of the cell can then declare them again, even after a failed check.
    """
    before = set(SQLModel.metadata.tables)
    try:
        yield
    finally:
        for name in set(SQLModel.metadata.tables) - before:
            SQLModel.metadata.remove(SQLModel.metadata.tables[name])


def _check_table(table: sa.Table) -> None:
    columns = table.columns
    if "nickname" not in columns:
        raise ExerciseFailed(
            "The members table has no `nickname` column. Add it to Member: "
            "`nickname: str | None = Field(default=None, max_length=40)`."
        )
    if not columns["nickname"].nullable:
        raise ExerciseFailed(
            "nickname is NOT NULL, so every existing member would need one: declare it "
            "`str | None` with `default=None`."
        )
    if getattr(columns["nickname"].type, "length", None) != 40:
        raise ExerciseFailed(
            "nickname has no length of 40 in the table: `Field(default=None, max_length=40)` "
            "makes it VARCHAR(40), which PostgreSQL enforces."
        )
    if "signup_ip" not in columns:
        raise ExerciseFailed(
            "The members table has no `signup_ip` column: add the internal field to Member, "
            "`signup_ip: str = Field(max_length=45)` (45 characters fit any IPv6 address)."
        )


def _check_schemas(create: type, read: type) -> None:
    if "nickname" not in create.model_fields:
        raise ExerciseFailed(
            "MemberCreate has no nickname field, so FastAPI would drop it from the request "
            "body: add `nickname: str | None = Field(default=None, max_length=40)` "
            "(pydantic's Field)."
        )
    if "signup_ip" in create.model_fields:
        raise ExerciseFailed(
            "MemberCreate accepts signup_ip: a client could then send any address it likes. "
            "The server sets it; remove it from MemberCreate."
        )
    if "id" in create.model_fields:
        raise ExerciseFailed("MemberCreate accepts an id; the database assigns ids: remove it.")
    if "signup_ip" in read.model_fields:
        raise ExerciseFailed(
            "MemberRead has a signup_ip field, so every response would show it. A response "
            "model lists what clients may see: remove signup_ip from MemberRead."
        )
    if "nickname" not in read.model_fields:
        raise ExerciseFailed(
            "MemberRead has no nickname field, so responses leave it out: add "
            "`nickname: str | None` to MemberRead."
        )


@asynccontextmanager
async def _engine_with(table: sa.Table) -> AsyncIterator[AsyncEngine]:
    """A private in-memory database holding only the learner's table."""
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(table.create)
        yield engine
    finally:
        await engine.dispose()


def _members_app(engine: AsyncEngine, member: type, create: type, read: type) -> FastAPI:
    """POST /members and GET /members/{id}, the way a real router would write them."""
    app = FastAPI()

    @app.post("/members", response_model=read, status_code=201)
    async def create_member(body: create, request: Request) -> Any:  # type: ignore[valid-type]
        async with AsyncSession(engine, expire_on_commit=False) as session:
            row = member(**body.model_dump(), signup_ip=request.client.host)
            session.add(row)
            await session.commit()
            return row

    @app.get("/members/{member_id}", response_model=read)
    async def read_member(member_id: int) -> Any:
        async with AsyncSession(engine) as session:  # a new session: the row comes from disk
            return await session.get(member, member_id)

    return app


def _body(response: httpx.Response, action: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ExerciseFailed(
            f"{action} failed with {response.status_code}: the members table and the schemas "
            "do not fit together. Every MemberCreate field must be a Member column, and every "
            "MemberRead field must be one too."
        )
    return response.json()


async def _exercise(engine: AsyncEngine, models: tuple[type, type, type]) -> None:
    app = _members_app(engine, *models)
    async with app_client(app) as client:
        created = await client.post(
            "/members", json={"email": "ada@example.com", "nickname": "ada"}
        )
        body = _body(created, "POST /members")
        if created.status_code != 201:
            raise ExerciseFailed(
                f"POST /members with an email and a nickname answered {created.status_code}: "
                f"{created.text[:200]}. MemberCreate needs email and an optional nickname."
            )
        if "signup_ip" in body:
            raise ExerciseFailed("The POST response shows signup_ip; MemberRead must not have it.")
        if body.get("nickname") != "ada":
            raise ExerciseFailed(
                f"POST /members with nickname 'ada' returned nickname={body.get('nickname')!r}."
            )
        fetched = await client.get(f"/members/{body['id']}")
        stored = _body(fetched, f"GET /members/{body['id']}")
        if stored.get("nickname") != "ada" or "signup_ip" in stored:
            raise ExerciseFailed(
                f"GET /members/{body['id']} returned {sorted(stored)} with nickname="
                f"{stored.get('nickname')!r}: the nickname must be stored and read back."
            )
        without = await client.post("/members", json={"email": "grace@example.com"})
        if without.status_code != 201 or _body(without, "POST")["nickname"] is not None:
            raise ExerciseFailed(
                f"POST /members without a nickname answered {without.status_code}: the "
                "nickname is optional, `str | None = None` in MemberCreate and in Member."
            )
        too_long = await client.post(
            "/members", json={"email": "long@example.com", "nickname": LONG_NICKNAME}
        )
        if too_long.status_code != 422:
            raise ExerciseFailed(
                f"A 41-character nickname was answered {too_long.status_code}, not 422. A table "
                "model does not validate (SQLite does not check VARCHAR lengths either): put "
                "max_length=40 on MemberCreate.nickname."
            )
    async with engine.connect() as connection:
        saved = (await connection.execute(sa.text("SELECT signup_ip FROM members"))).scalars()
        if list(saved) != [CLIENT_IP, CLIENT_IP]:
            raise ExerciseFailed(
                "signup_ip was not stored for each member: the server sets it from the request."
            )


async def verify_add_field(candidate: Any) -> None:
    with _tables_forgotten_afterwards():
        models = _declare(candidate)
        table = _table(models[0])
        _check_table(table)
        _check_schemas(models[1], models[2])
        async with _engine_with(table) as engine:
            await _exercise(engine, models)


EXERCISES = (
    Exercise(
        id="06.add_field",
        notebook_id=NOTEBOOK_ID,
        title="A new field, end to end",
        instructions=(
            "Complete member_models(): give the members table a public, optional `nickname` "
            "(at most 40 characters) that clients can send and read back, and an internal "
            "`signup_ip` that the server stores and no response ever shows."
        ),
        starter=STARTER,
        solution=SOLUTION,
        name="member_models",
        verify=verify_add_field,
        success="The nickname round-trips through the database; signup_ip is stored and hidden.",
    ),
)
