"""Hints of notebook 05's check: each likely mistake gets its own specific sentence.

Each wrong candidate is the reference solution with one edit, so a test names exactly
the mistake it makes.
"""

import exercise_helpers
import pytest
from sqlmodel import Field, SQLModel

from workshop_lab.exercises import check, get_exercise
from workshop_lab.exercises.ex06_data import SOLUTION

EXERCISE = get_exercise("06.add_field")


progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def variant(old: str, new: str):
    """The solution's member_models with `old` replaced by `new`."""
    assert old in SOLUTION, old
    return EXERCISE.load(SOLUTION.replace(old, new))


def hint_for(candidate) -> str:
    result = check("06.add_field", candidate)
    assert result.passed is False
    return result.hint


NICKNAME_COLUMN = "nickname: str | None = Field(default=None, max_length=40)  # NULL for"
CREATE_NICKNAME = "nickname: str | None = SchemaField(default=None, max_length=40)"
READ_NICKNAME = "        nickname: str | None\n\n    return"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (NICKNAME_COLUMN, "# NULL for", "has no `nickname` column"),
        (NICKNAME_COLUMN, "nickname: str = Field(max_length=40)  # NULL for", "is NOT NULL"),
        (NICKNAME_COLUMN, "nickname: str | None = None  # NULL for", "no length of 40"),
        ("signup_ip: str = Field(max_length=45)", "pass", "no `signup_ip` column"),
        (CREATE_NICKNAME, "pass", "MemberCreate has no nickname field"),
        (
            CREATE_NICKNAME,
            CREATE_NICKNAME + "\n        signup_ip: str | None = None",
            "a client could then send any address",
        ),
        (
            CREATE_NICKNAME,
            CREATE_NICKNAME + "\n        id: int | None = None",
            "the database assigns ids",
        ),
        (
            READ_NICKNAME,
            "        nickname: str | None\n        signup_ip: str\n\n    return",
            "every response would show it",
        ),
        (READ_NICKNAME, "        pass\n\n    return", "MemberRead has no nickname field"),
        (
            CREATE_NICKNAME,
            "nickname: str | None = None",
            "A 41-character nickname was answered 201",
        ),
        (
            READ_NICKNAME,
            "        nickname: str | None\n        joined_at: str\n\n    return",
            "do not fit together",
        ),
    ],
    ids=[
        "no-nickname-column",
        "nickname-not-null",
        "nickname-unbounded-column",
        "no-internal-column",
        "create-without-nickname",
        "create-accepts-internal",
        "create-accepts-id",
        "read-leaks-internal",
        "read-without-nickname",
        "create-unbounded",
        "read-field-not-in-table",
    ],
)
def test_hint(old, new, expected):
    assert expected in hint_for(variant(old, new))


@pytest.mark.filterwarnings("ignore:This declarative base already contains")
def test_passing_the_result_instead_of_the_function():
    models = EXERCISE.load(SOLUTION)()
    try:
        assert "pass the function itself" in hint_for(models)
    finally:
        SQLModel.metadata.remove(models[0].__table__)


def test_an_async_function():
    candidate = variant("def member_models():", "async def member_models():")
    assert "make it a plain `def`" in hint_for(candidate)


def test_returning_two_classes():
    candidate = variant("return Member, MemberCreate, MemberRead", "return Member, MemberRead")
    assert "three classes" in hint_for(candidate)


def test_returning_a_schema_first():
    candidate = variant(
        "return Member, MemberCreate, MemberRead", "return MemberRead, MemberCreate, Member"
    )
    assert "is not a table" in hint_for(candidate)


def test_a_table_left_on_the_metadata_by_an_earlier_cell():
    class Member(SQLModel, table=True):
        __tablename__ = "members"
        id: int | None = Field(default=None, primary_key=True)

    try:
        hint = hint_for(EXERCISE.load(SOLUTION))
    finally:
        SQLModel.metadata.remove(Member.__table__)
    assert "Run `lab.reload_app();` once" in hint


def test_the_check_can_run_again_and_leaves_the_metadata_as_it_was():
    before = set(SQLModel.metadata.tables)
    candidate = EXERCISE.load(SOLUTION)

    results = [check("06.add_field", candidate).passed for _ in range(2)]
    failed = hint_for(EXERCISE.load(EXERCISE.starter))

    assert results == [True, True]
    assert "has no `nickname` column" in failed
    assert set(SQLModel.metadata.tables) == before
