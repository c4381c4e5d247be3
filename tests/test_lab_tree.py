"""lab.package_tree(): generated from the files, ordered, deterministic, toolkit collapsed."""

from pathlib import Path

import pytest

import workshop_lab as lab
from workshop_lab.paths import APP_DIR
from workshop_lab.reference import PackageTree, package_tree, summary


def _write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    _write(root, "__init__.py", '"""The shop package."""\n')
    _write(root, "main.py", '"""Build the app.\n\nMore detail that is not shown.\n"""\n')
    _write(root, "config.py", "X = 1  # no docstring\n")
    _write(root, "routers/__init__.py", '"""Mount routers."""\n')
    _write(root, "routers/orders.py", '"""Orders over HTTP."""\n')
    _write(root, "models/user.py", '"""\n  A user row.  \n"""\n')
    _write(root, "routers/__pycache__/orders.cpython-311.pyc", "bytecode")
    _write(root, "__pycache__/main.cpython-311.py", "not a module")
    _write(root, "static/logo.svg", "<svg/>")  # a folder without Python code
    _write(root, ".hidden/secret.py", '"""Hidden."""\n')
    _write(root, "README.md", "not a module")
    return root


def test_the_tree_lists_folders_first_then_modules_sorted(package: Path) -> None:
    # Descriptions start in one column: two spaces after the longest tree entry (19 chars).
    assert repr(package_tree(package)).splitlines() == [
        "shop/",
        "├── models/",
        "│   └── user.py      A user row.",
        "├── routers/",
        "│   ├── __init__.py  Mount routers.",
        "│   └── orders.py    Orders over HTTP.",
        "├── __init__.py      The shop package.",
        "├── config.py",
        "└── main.py          Build the app.",
    ]


def test_the_same_files_give_the_same_tree(package: Path) -> None:
    first = package_tree(package)
    assert package_tree(str(package)) == first
    assert repr(package_tree(package)) == repr(first)


def test_the_tree_follows_the_files(package: Path) -> None:
    _write(package, "services/orders.py", '"""Order rules, no HTTP."""\n')
    assert "services/" in repr(package_tree(package))
    (package / "main.py").write_text('"""Build the app, differently."""\n')
    assert "Build the app, differently." in repr(package_tree(package))


def test_a_module_that_does_not_parse_is_shown_as_such(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text('"""Fine so far."""\ndef oops(:\n')
    assert summary(broken).startswith("(does not parse: ")
    assert "line 2" in summary(broken)
    undecodable = tmp_path / "latin.py"
    undecodable.write_bytes(b'"""caf\xe9"""\n')
    assert summary(undecodable) == "(cannot be read: UnicodeDecodeError)"


def test_text_and_html_forms_agree_and_html_is_escaped(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    _write(root, "main.py", '"""Returns <b>HTML</b> & more."""\n')
    bundle = package_tree(root)._repr_mimebundle_()
    assert bundle["text/plain"] == "pkg/\n└── main.py  Returns <b>HTML</b> & more."
    assert bundle["text/html"].startswith("<pre>")
    assert "&lt;b&gt;HTML&lt;/b&gt; &amp; more." in bundle["text/html"]


def test_an_empty_folder_is_just_its_name(tmp_path: Path) -> None:
    assert repr(package_tree(tmp_path)) == f"{tmp_path.name}/"


def test_a_path_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="needs a folder"):
        package_tree(tmp_path / "missing")


def test_the_real_package_by_default() -> None:
    tree = lab.package_tree()
    assert isinstance(tree, PackageTree)
    lines = tree.lines
    assert lines[0] == "workshop_app/"
    config_summary = summary(APP_DIR / "config.py")
    config_lines = [line for line in lines if line.startswith(("├── config.py", "└── config.py"))]
    assert config_summary and len(config_lines) == 1
    assert config_lines[0].endswith(f"  {config_summary}")
    assert not any("client.py" in line or "__pycache__" in line for line in lines)
