"""Put the reference app back after a ``%%writefile`` experiment went wrong.

Learners edit the app's modules from notebook cells, and a broken module breaks
every later notebook. A snapshot of every reference module ships with the repo
(``data/reference/app_modules.json``), so the comparison and the repair work
without git: on Binder, or from a zip download. The snapshot is rebuilt by the
regeneration tool: ``python tools/snapshot.py --write-snapshot``.
"""

from __future__ import annotations

import difflib
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .paths import REPO_ROOT
from .progress_store import atomic_write_text

SNAPSHOT_PATH = Path("data/reference/app_modules.json")
SNAPSHOT_VERSION = 1
APP_PACKAGE = "workshop_app"
TOOLKIT = ("workshop_app", "lab")  # the toolkit is not part of the reference app
MAX_DIFF_LINES = 30

State = Literal["changed", "missing", "extra"]


def reference_files(root: Path = REPO_ROOT) -> list[str]:
    """Repo-relative POSIX paths of the app's modules on disk (the toolkit excluded)."""
    found = []
    for path in (root / APP_PACKAGE).rglob("*.py"):
        parts = path.relative_to(root).parts
        if parts[:2] == TOOLKIT or any(part.startswith(".") for part in parts):
            continue
        found.append("/".join(parts))
    return sorted(found)


def _read(root: Path, relpath: str) -> str:
    # Bytes decoded as-is: universal newlines would hide a CRLF rewrite.
    return (root / relpath).read_bytes().decode("utf-8")


def build_snapshot(root: Path = REPO_ROOT) -> dict[str, Any]:
    return {
        "version": SNAPSHOT_VERSION,
        "files": {relpath: _read(root, relpath) for relpath in reference_files(root)},
    }


def _snapshot_json(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_snapshot(root: Path = REPO_ROOT) -> Path:
    """Record the current modules as the reference (the regen tool calls this)."""
    target = root / SNAPSHOT_PATH
    atomic_write_text(target, _snapshot_json(build_snapshot(root)))
    return target


class SnapshotError(Exception):
    """The snapshot is missing or unreadable; the message says how to rebuild it."""


def load_snapshot(root: Path = REPO_ROOT) -> dict[str, str]:
    """The reference files by path."""
    path = root / SNAPSHOT_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(
            f"Cannot read the reference snapshot {SNAPSHOT_PATH.as_posix()} "
            f"({type(exc).__name__}). Rebuild it with "
            "`python tools/snapshot.py --write-snapshot`, or download the repo again."
        ) from None
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(
            f"{SNAPSHOT_PATH.as_posix()} is not a version {SNAPSHOT_VERSION} snapshot."
        )
    return dict(data["files"])


def snapshot_is_current(root: Path = REPO_ROOT) -> bool:
    try:
        return load_snapshot(root) == build_snapshot(root)["files"]
    except SnapshotError:
        return False


def _diff(reference: str, current: str, relpath: str) -> str:
    """A unified diff from the reference to the working file, cut to a readable length."""
    lines = list(
        difflib.unified_diff(
            reference.splitlines(keepends=True),
            current.splitlines(keepends=True),
            f"reference/{relpath}",
            f"yours/{relpath}",
        )
    )
    shown = "".join(line if line.endswith("\n") else line + "\n" for line in lines[:MAX_DIFF_LINES])
    if len(lines) > MAX_DIFF_LINES:
        shown += f"... ({len(lines) - MAX_DIFF_LINES} more diff lines)\n"
    return shown


@dataclass(frozen=True)
class ModuleStatus:
    path: str
    state: State
    diff: str = ""


_STATE_TEXT = {
    "changed": "changed (differs from the reference)",
    "missing": "missing (deleted or never written)",
    "extra": "extra (not part of the reference app; restore leaves it alone)",
}


def _status_text(statuses: list[ModuleStatus]) -> str:
    return "\n".join(f"  {status.path}: {_STATE_TEXT[status.state]}" for status in statuses)


def _status_html(statuses: list[ModuleStatus]) -> str:
    items = []
    for status in statuses:
        item = f"<li><code>{html.escape(status.path)}</code>: {_STATE_TEXT[status.state]}"
        if status.diff:
            item += f"<pre>{html.escape(status.diff)}</pre>"
        items.append(item + "</li>")
    return f"<ul>{''.join(items)}</ul>"


class ModuleChanges(list[ModuleStatus]):
    """The list returned by ``changed_modules``; displays itself as a short report."""

    def __init__(self, statuses: list[ModuleStatus], *, error: str | None = None) -> None:
        super().__init__(statuses)
        self.error = error

    def summary(self) -> str:
        if self.error:
            return self.error
        if not self:
            return "All reference modules match the snapshot."
        return f"{len(self)} module(s) differ from the reference:\n{_status_text(self)}"

    def __repr__(self) -> str:
        diffs = "".join(f"\n{status.diff}" for status in self if status.diff)
        return self.summary() + ("\n" + diffs.rstrip("\n") if diffs else "")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        if self.error or not self:
            return {"text/plain": repr(self), "text/html": f"<p>{html.escape(self.summary())}</p>"}
        head = html.escape(f"{len(self)} module(s) differ from the reference:")
        return {"text/plain": repr(self), "text/html": f"<p>{head}</p>{_status_html(self)}"}


def changed_modules(root: Path = REPO_ROOT) -> ModuleChanges:
    """Compare the working modules to the snapshot: changed, missing and extra ones."""
    try:
        reference = load_snapshot(root)
    except SnapshotError as exc:
        return ModuleChanges([], error=str(exc))
    on_disk = set(reference_files(root))
    statuses = []
    for relpath in sorted(on_disk | set(reference)):
        if relpath not in reference:
            statuses.append(ModuleStatus(relpath, "extra"))
        elif relpath not in on_disk:
            statuses.append(ModuleStatus(relpath, "missing"))
        else:
            # Bytes, not text: a file saved in another encoding must be reported, not crash
            # the very function that would repair it.
            current = (root / relpath).read_bytes()
            if current != reference[relpath].encode("utf-8"):
                text = current.decode("utf-8", errors="replace")
                statuses.append(
                    ModuleStatus(relpath, "changed", _diff(reference[relpath], text, relpath))
                )
    return ModuleChanges(statuses)


def _normalise(name: str, root: Path) -> str:
    """Accept "workshop_app/config.py", "../workshop_app/config.py", "workshop_app.config"
    or an absolute path inside the repo."""
    text = name.strip()
    if Path(text).is_absolute():
        try:
            text = Path(text).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return text
    text = text.replace("\\", "/")
    while text.startswith(("./", "../")):
        text = text.split("/", 1)[1]
    if not text.endswith(".py") and "/" not in text:
        return text.replace(".", "/") + ".py"
    return text


def _candidates(name: str, root: Path) -> list[str]:
    path = _normalise(name, root)
    return [path, path.removesuffix(".py") + "/__init__.py"]


@dataclass(frozen=True)
class RestoreResult:
    """What ``restore`` wrote back, or why it wrote nothing."""

    restored: list[str] = field(default_factory=list)
    error: str | None = None

    def __repr__(self) -> str:
        if self.error:
            return self.error
        if not self.restored:
            return "Nothing to restore: all reference modules match the snapshot."
        listing = "\n".join(f"  {path}" for path in self.restored)
        return (
            f"Restored {len(self.restored)} module(s) from the reference:\n{listing}\n"
            "Run lab.reload_app() so the next import uses them."
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": f"<pre>{html.escape(repr(self))}</pre>"}


def restore(path: str | None = None, root: Path = REPO_ROOT) -> RestoreResult:
    """Write back one module (by path or dotted name) or, with no argument, every changed one."""
    try:
        reference = load_snapshot(root)
    except SnapshotError as exc:
        return RestoreResult(error=str(exc))
    if path is None:
        wanted = [s.path for s in changed_modules(root) if s.state in ("changed", "missing")]
    else:
        match = next((c for c in _candidates(path, root) if c in reference), None)
        if match is None:
            valid = "\n".join(f"  {relpath}" for relpath in sorted(reference))
            return RestoreResult(error=f"{path!r} is not a reference module. Valid ones:\n{valid}")
        wanted = [match]
    for relpath in wanted:
        atomic_write_text(root / relpath, reference[relpath])
    return RestoreResult(restored=wanted)
