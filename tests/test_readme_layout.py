"""The README's Layout section matches the tree: every module of bot/ and strategies/ is
listed under its package, and nothing listed is missing.

The block is read as an outline: a line is `<indent><names>  <description>`, where names
are `x.py` or `folder/`, comma-separated; a folder opens the package that the more
indented lines below it belong to, and stands for its `__init__.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1].strip("\n").splitlines()


def _listed() -> tuple[set[str], set[str]]:
    """(files, folders) the block names, as paths from the project root."""
    files: set[str] = set()
    folders: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder path)
    for line in _layout_block():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        for name in (n.strip() for n in names.split(",")):
            assert re.fullmatch(r"[\w.]+\.py|[\w.]+/", name), f"not a file or folder: {line!r}"
            path = parent + name
            if name.endswith("/"):
                folders.add(path.rstrip("/"))
                if (ROOT / path / "__init__.py").is_file():
                    files.add(path + "__init__.py")  # a package's line stands for it
                stack.append((indent, path))
            else:
                files.add(path)
    return files, folders


def _tree() -> tuple[set[str], set[str]]:
    files: set[str] = set()
    folders: set[str] = set()
    for top in ("bot", "strategies"):
        for p in (ROOT / top).rglob("*.py"):
            if "__pycache__" in p.parts:
                continue
            files.add(p.relative_to(ROOT).as_posix())
            folders.add(p.parent.relative_to(ROOT).as_posix())
    return files, folders


def test_every_module_is_listed_under_its_package() -> None:
    listed_files, listed_folders = _listed()
    tree_files, tree_folders = _tree()
    assert sorted(tree_files - listed_files) == [], "modules missing from the README layout"
    assert sorted(tree_folders - listed_folders) == [], "packages missing from the README layout"


def test_nothing_listed_is_missing_from_the_tree() -> None:
    listed_files, listed_folders = _listed()
    assert sorted(f for f in listed_files if not (ROOT / f).is_file()) == []
    assert sorted(d for d in listed_folders if not (ROOT / d).is_dir()) == []


def test_the_outline_reader_places_a_module_by_its_indent() -> None:
    # The reader itself: a nested module lands in its package, a top one at the root.
    files, folders = _listed()
    assert "bot/engine/core.py" in files and "bot/settings.py" in files
    assert "bot/core.py" not in files and "bot/engine" in folders
