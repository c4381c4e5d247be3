"""The learner's own files, broken every way we can think of and many we did not.

A corrupt progress file, a quiz bank with a broken question, a module whose ``%%writefile``
cell was edited into a syntax error (or saved in the wrong encoding, or truncated, or
deleted): each must give a clear message and a way back, and lose nothing else. A damaged
progress file is moved aside intact, never deleted; the other notebooks' answers survive
a broken quiz bank; ``lab.changed_modules``/``lab.restore`` bring back any module.

Everything happens in temporary files and folders: never the repository's files or
``~/.fastapi-workshop``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from robustness_helpers import bulk

import workshop_lab as lab
from workshop_lab import notebook
from workshop_lab import workspace as ws
from workshop_lab.dashboard import ProgressDashboard
from workshop_lab.paths import DATA_DIR
from workshop_lab.progress_store import Progress, ProgressFileWarning, ProgressStore
from workshop_lab.quizzes import QuizBankError, load_bank

QUIZZES = DATA_DIR / "quizzes"
CHECKPOINTS = ws.load_checkpoints()
FINAL = CHECKPOINTS.files_after(None)


@pytest.fixture(autouse=True)
def progress_file_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Whatever a test calls, the learner's real progress file is never touched."""
    path = tmp_path / "progress" / "progress.sqlite3"
    monkeypatch.setenv("WORKSHOP_PROGRESS_FILE", str(path))
    return path


# --- the progress file ---------------------------------------------------------------------


def progress_with_two_notebooks(path: Path) -> Progress:
    store = ProgressStore(path)
    store.record_quiz_answer("00_welcome", "bridge", correct=True, score=1, answer=2)
    store.record_quiz_answer("01_structure", "env_var_name", correct=False, score=0, answer="X")
    store.record_exercise("01_structure", "01.validated_setting", passed=True)
    return store.load()


LEGACY = json.dumps(
    {
        "version": 1,
        "notebooks": {
            "00_welcome": {
                "quizzes": {
                    "bridge": {
                        "first": {"correct": True, "score": 1.0, "answer": 2},
                        "best": {"correct": True, "score": 1.0, "answer": 2},
                        "attempts": 1,
                    }
                }
            }
        },
    },
    indent=2,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
damaged_files = st.one_of(
    st.binary(max_size=300),
    st.integers(0, len(LEGACY) - 1).map(lambda cut: LEGACY[:cut].encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b"SQLite format 3\x00" + b"\xff" * 200,  # a database header, then garbage
            b"\xef\xbb\xbf" + LEGACY.encode(),  # saved by an editor that adds a BOM
            LEGACY.encode("utf-16"),
            LEGACY.replace('"attempts": 1', '"attempts": "one"').encode(),
            b"\x00" * 64,
        ]
    ),
)


def record_one_answer(path: Path) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ProgressStore(path).record_quiz_answer(
            "06_data", "tables", correct=True, score=1, answer="users"
        )
    return [w for w in caught if issubclass(w.category, ProgressFileWarning)]


@bulk(120)
@given(content=damaged_files)
def test_any_damaged_progress_file_is_set_aside_intact_and_progress_goes_on(
    content: bytes,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "progress.sqlite3"
        path.write_bytes(content)

        raised = record_one_answer(path)

        saved = ProgressStore(path).load()
        assert saved.notebook("06_data").quizzes["tables"].best.correct
        aside = [p for p in Path(folder).iterdir() if ".set-aside-" in p.name]
        if raised:
            # Moved aside byte for byte, and the warning says where it went.
            [moved] = aside
            assert moved.read_bytes() == content
            message = str(raised[0].message)
            assert str(path) in message and str(moved) in message
            assert set(saved.notebooks) == {"06_data"}
        elif aside:
            # A record of an earlier version: set aside quietly, every entry imported.
            old = json.loads(content)
            for notebook_id, record in old.get("notebooks", {}).items():
                assert (
                    saved.notebook(notebook_id).quizzes.keys() >= record.get("quizzes", {}).keys()
                )
        else:
            assert content == b""  # SQLite takes an empty file as an empty database


def test_a_damaged_progress_file_still_shows_the_dashboard(progress_file_in_tmp: Path) -> None:
    progress_file_in_tmp.parent.mkdir(parents=True)
    progress_file_in_tmp.write_bytes(b'{"version": 1, "notebooks": {"00_welcome": ')  # truncated
    with pytest.warns(ProgressFileWarning, match="moved to"):
        text = repr(lab.progress())
    assert text.startswith("Workshop progress")
    [aside] = [p for p in progress_file_in_tmp.parent.iterdir() if ".set-aside-" in p.name]
    assert aside.read_bytes().endswith(b'"00_welcome": ')


def test_a_folder_in_place_of_the_progress_file_still_shows_the_dashboard(
    progress_file_in_tmp: Path,
) -> None:
    progress_file_in_tmp.mkdir(parents=True)
    with pytest.warns(ProgressFileWarning, match="is a folder"):
        text = repr(lab.progress())
    assert text.startswith("Workshop progress")


# --- quiz banks ----------------------------------------------------------------------------

BANK_TEXT = (QUIZZES / "01_structure.toml").read_text(encoding="utf-8")
BANK_LINES = BANK_TEXT.splitlines(keepends=True)
toml_scalars = st.one_of(
    st.integers().map(str),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=20).map(json.dumps),
    st.sampled_from(["[]", "[1, 2]", '["a"]', "{}", "{ x = 1 }", "'''", '"""', "nan", "-0"]),
)


@st.composite
def broken_banks(draw: st.DrawFn) -> bytes:
    """A real bank with a few edits a hurried author (or a fuzzer) could make."""
    lines = list(BANK_LINES)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "revalue", "garbage", "truncate"]))
        if edit == "delete":
            del lines[index]
        elif edit == "duplicate":
            lines.insert(index, lines[index])
        elif edit == "revalue" and " = " in lines[index]:
            key = lines[index].split(" = ", 1)[0]
            lines[index] = f"{key} = {draw(toml_scalars)}\n"
        elif edit == "garbage":
            lines.insert(index, draw(st.text(max_size=30)) + "\n")
        elif edit == "truncate":
            lines = lines[:index]
        if not lines:
            break
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + b"\xff" + data[at:]  # a byte that is never UTF-8
    return data


@bulk(150)
@given(content=broken_banks())
def test_any_broken_bank_is_a_quiz_bank_error_naming_the_file(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "02_factory.toml"
        path.write_bytes(content)
        try:
            bank = load_bank(path)
        except QuizBankError as error:
            assert str(error).startswith(str(path)), str(error)[:200]
            assert error.problems and all(str(p).strip() for p in error.problems)
        else:
            assert bank.questions  # what loads is a usable bank

        # The dashboard reads banks too, to count questions: it must show every row anyway.
        notebooks = Path(folder) / "notebooks"
        notebooks.mkdir()
        (notebooks / "02_factory.ipynb").write_text("{}")
        store = ProgressStore(Path(folder) / "progress.sqlite3")
        store.record_quiz_answer("02_factory", "factory", correct=True, score=1, answer=1)
        text = repr(ProgressDashboard(store, notebooks_dir=notebooks, quizzes_dir=Path(folder)))
        assert "02_factory" in text


SMALL_BANK = """
title = "{title}"

[[questions]]
id = "{question}"
kind = "multiple"
prompt = "Which?"
options = ["one", "two", "three", "four", "five"]
answer = [1, 3, 5]
explanation = "Because."
"""


def test_a_broken_question_names_itself_and_leaves_all_progress_alone(
    tmp_path: Path, progress_file_in_tmp: Path
) -> None:
    before = progress_with_two_notebooks(progress_file_in_tmp)
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    good = SMALL_BANK.format(title="Welcome", question="bridge")
    (quizzes / "00_welcome.toml").write_text(good, encoding="utf-8")
    broken = quizzes / "01_structure.toml"
    text = SMALL_BANK.format(title="Structure", question="layering_imports")
    broken.write_text(text.replace("answer = [1, 3, 5]\n", "answer = [1, 3, 9]\n"))

    with pytest.raises(QuizBankError) as caught:
        lab.quiz(broken)
    message = str(caught.value)
    assert str(broken) in message and "'layering_imports'" in message and "9" in message

    assert ProgressStore(progress_file_in_tmp).load() == before
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for notebook_id in ("00_welcome", "01_structure"):
        (notebooks / f"{notebook_id}.ipynb").write_text("{}")
    rows = {
        row.notebook_id: row
        for row in ProgressDashboard(notebooks_dir=notebooks, quizzes_dir=quizzes).rows()
    }
    assert (rows["00_welcome"].quiz_correct, rows["01_structure"].quiz_correct) == (1, 0)
    assert rows["01_structure"].exercises_passed == 1
    assert lab.quiz(quizzes / "00_welcome.toml").bank.questions  # the other banks still load


# --- modules edited from a notebook ----------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The learner's workspace holding the whole app, outside any notebook: no changes yet."""
    root = tmp_path / "workspace"
    monkeypatch.setenv(ws.ENV_VAR, str(root))
    monkeypatch.setattr(notebook, "_current_notebook", None)
    ws.sync(root, FINAL, CHECKPOINTS)
    assert not lab.changed_modules()
    return root


def import_in_a_fresh_kernel(root: Path, module: str) -> subprocess.CompletedProcess[str]:
    """What the next notebook's first import sees: a new interpreter on the workspace."""
    code = f"import {module}, workshop_app; print(workshop_app.__file__)"
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )


def test_a_writefile_cell_edited_into_a_syntax_error_is_named_and_restored(
    workspace: Path,
) -> None:
    config = workspace / "workshop_app" / "config.py"
    original = config.read_bytes()
    # What a learner's edited cell writes: a dropped closing parenthesis in the settings class.
    lines = original.decode().splitlines(keepends=True)
    broken_at = next(i for i, line in enumerate(lines) if "rate_limit_requests" in line)
    lines[broken_at] = lines[broken_at].replace(")", "", 1)
    config.write_text("".join(lines), encoding="utf-8")

    failed = import_in_a_fresh_kernel(workspace, "workshop_app.main")
    assert failed.returncode != 0
    assert "SyntaxError" in failed.stderr
    assert f'File "{config}", line {broken_at + 1}' in failed.stderr  # the file and line to fix

    changes = lab.changed_modules()
    assert [(c.path, c.state) for c in changes] == [("workshop_app/config.py", "edited")]
    assert "rate_limit_requests" in changes[0].diff

    result = lab.restore()
    assert result.restored == ["workshop_app/config.py"]
    assert "Re-run the cells that import them" in repr(result)
    assert config.read_bytes() == original
    assert not lab.changed_modules()
    fixed = import_in_a_fresh_kernel(workspace, "workshop_app.main")
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.strip() == str(workspace / "workshop_app" / "__init__.py")


@st.composite
def damaged_module(draw: st.DrawFn) -> tuple[str, bytes | None]:
    """A module of the app and what a mishap left in it (None: the file was deleted)."""
    relpath = draw(st.sampled_from(sorted(p for p in FINAL if p.endswith(".py"))))
    data = FINAL[relpath].encode("utf-8")
    damage = draw(st.sampled_from(["truncate", "bytes", "latin-1", "empty", "crlf", "delete"]))
    if damage == "truncate":
        return relpath, data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if damage == "bytes":
        at = draw(st.integers(0, len(data)))
        return relpath, data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if damage == "latin-1":  # saved by an editor in the wrong encoding
        return relpath, (FINAL[relpath] + "# café\n").encode("latin-1", "replace")
    if damage == "crlf":
        return relpath, data.replace(b"\n", b"\r\n") if b"\n" in data else data + b"\r\n"
    return relpath, (b"" if damage == "empty" else None)


@bulk(60)
@given(damage=damaged_module())
def test_any_damaged_module_is_reported_and_restored_byte_for_byte(
    damage: tuple[str, bytes | None],
) -> None:
    relpath, content = damage
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        root = Path(folder)
        patch.setenv(ws.ENV_VAR, str(root))
        patch.setattr(notebook, "_current_notebook", None)
        ws.sync(root, FINAL, CHECKPOINTS)
        original = (root / relpath).read_bytes()
        if content is None:
            (root / relpath).unlink()
        else:
            (root / relpath).write_bytes(content)
        versions = {text.encode("utf-8") for text in CHECKPOINTS.versions(relpath)}
        unchanged = content == original
        # An empty module may be a version an earlier notebook wrote: that is not an edit.
        earlier = content in versions and not unchanged

        changes = lab.changed_modules()
        shown = repr(changes) + changes._repr_mimebundle_()["text/html"]  # what a notebook shows
        assert unchanged or earlier or relpath in shown
        if content is None:
            expected = [(relpath, "missing")]
        else:
            expected = [] if unchanged or earlier else [(relpath, "edited")]
        assert [(c.path, c.state) for c in changes] == expected

        result = lab.restore(relpath)
        assert result.restored == ([] if unchanged else [relpath])
        assert (root / relpath).read_bytes() == original
        assert not lab.changed_modules()
