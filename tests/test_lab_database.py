"""lab.fresh_database_url and lab.rows: clean databases and stable row tables in notebooks."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import workshop_lab as lab
from workshop_app.models import OrderStatus, User
from workshop_lab import database


def path_of(url: str):
    assert url.startswith("sqlite+aiosqlite:///")
    return database.database_dir() / url.rsplit("/", 1)[1]


def test_the_url_names_a_file_in_the_kernels_temp_folder():
    url = lab.fresh_database_url("orders")

    assert url == f"sqlite+aiosqlite:///{(database.database_dir() / 'orders.db').as_posix()}"
    assert database.database_dir().is_dir()
    assert database.database_dir() == database.database_dir()


@pytest.mark.anyio
async def test_each_call_starts_from_an_empty_database():
    url = lab.fresh_database_url("clean")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE kept (id INTEGER)"))
    await engine.dispose()
    assert path_of(url).exists()

    again = lab.fresh_database_url("clean")
    engine = create_async_engine(again)
    async with engine.connect() as connection:
        tables = (await connection.execute(text("SELECT name FROM sqlite_master"))).all()
    await engine.dispose()

    assert (again, tables) == (url, [])


def test_side_files_are_deleted_too():
    url = lab.fresh_database_url("wal")
    main = path_of(url)
    side = [main.with_name(main.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    for file in side:
        file.write_bytes(b"left over")

    lab.fresh_database_url("wal")

    assert [file.exists() for file in side] == [False] * 4


def test_other_names_are_left_alone():
    keep = path_of(lab.fresh_database_url("keep"))
    keep.write_bytes(b"rows")

    lab.fresh_database_url("other")

    assert keep.read_bytes() == b"rows"


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "x" * 65, "with space"])
def test_names_that_are_not_plain_file_names_are_refused(name):
    with pytest.raises(ValueError, match="1-64 letters"):
        lab.fresh_database_url(name)


def test_a_file_that_cannot_be_deleted_names_the_fix(monkeypatch):
    def refuse(self, missing_ok=False):
        raise PermissionError("in use")

    monkeypatch.setattr(database.Path, "unlink", refuse)
    with pytest.raises(
        RuntimeError, match=r"locked\.db is still open: `await engine\.dispose\(\)`"
    ):
        lab.fresh_database_url("locked")


def test_rows_prints_the_named_fields_in_order(capsys):
    created = datetime(2026, 1, 5, 18, 16, tzinfo=UTC)
    users = [
        User(
            id=1,
            email="amara.okafor@example.com",
            full_name="Amara",
            password_hash="!",
            created_at=created,
        ),
        User(
            id=2,
            email="chen.wei@example.cn",
            full_name="Chen Wei",
            password_hash="!",
            is_active=False,
            created_at=created,
        ),
    ]

    lab.rows(users, ["id", "email", "is_active"])

    assert capsys.readouterr().out.splitlines() == [
        "id  email                     is_active",
        "--  ------------------------  ---------",
        "1   amara.okafor@example.com  True",
        "2   chen.wei@example.cn       False",
    ]


def test_rows_reads_dicts_shows_enum_values_and_shortens_long_cells(capsys):
    lab.rows(
        [{"status": OrderStatus.PAID, "note": "n" * 50}],
        ["status", "note"],
    )

    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "paid    " + "n" * 39 + "…"


def test_rows_says_when_there_are_none(capsys):
    lab.rows([], ["id", "email"])

    assert capsys.readouterr().out.splitlines() == ["id  email", "--  -----", "(no rows)"]


def test_rows_names_a_missing_field():
    with pytest.raises(AttributeError, match="phone"):
        lab.rows([User(email="a@example.com", full_name="A", password_hash="!")], ["phone"])


def test_scratch_dir_is_empty_each_time_and_inside_the_kernels_folder():
    folder = lab.scratch_dir("alembic")
    (folder / "left.txt").write_text("from the last run")
    again = lab.scratch_dir("alembic")
    assert again == folder and list(again.iterdir()) == []
    assert folder.parent == database.database_dir()
    with pytest.raises(ValueError, match="Name the folder"):
        lab.scratch_dir("../outside")


def test_a_kernel_leaves_no_folder_and_cleans_those_of_killed_kernels(tmp_path):
    """Run real interpreters: one exits normally, one is killed; the next start cleans up."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    use = "from workshop_lab import database; print(database.database_dir(), flush=True)"
    done = subprocess.run([sys.executable, "-c", use], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not os.path.exists(done.stdout.strip()), "a kernel that exits leaves its folder"

    killed = subprocess.Popen(
        [sys.executable, "-c", use + "; import time; time.sleep(60)"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    left = killed.stdout.readline().strip()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    killed.stdout.close()
    assert os.path.isdir(left), "a killed kernel cannot clean up"

    again = subprocess.run([sys.executable, "-c", use], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not os.path.exists(left), "the next kernel removes the folder of the killed one"
    root = database.kernels_root().name
    assert list((tmp_path / root).iterdir()) == []
