"""The README's code map names every module of tfcolor/, export/ and serving/, and only modules that exist."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tfcolor", "export", "serving")


def map_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Code map")
    return readme[start:readme.index("\n## ", start + 1)]


def mapped_paths(section: str) -> set[str]:
    """Every backticked `*.py` or folder in the map, a bare file name read inside its bold folder heading."""
    found, folder = set(), ""
    for line in section.splitlines():
        heading = re.match(r"\*\*`([\w/]+/)`\*\*", line)
        if heading:
            folder = heading.group(1)
        elif line.startswith("**"):
            folder = ""
        for token in re.findall(r"`([\w./]+(?:\.py|/))`", line):
            path = token if "/" in token or not folder else folder + token  # folders are named from the top
            found.add(path.rstrip("/"))
    return found


def modules() -> set[str]:
    """Every module file; a package's `__init__.py` is named by its folder (the top-level one by its file)."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if path.name == "__init__.py" and relative != "tfcolor/__init__.py":
                relative = path.parent.relative_to(ROOT).as_posix()
            found.add(relative)
    return found - set(PACKAGES)


def test_every_module_is_in_the_code_map_and_every_mapped_file_exists():
    mapped, existing = mapped_paths(map_section()), modules()
    assert sorted(existing - mapped) == [], "modules missing from the README's code map"
    assert sorted(path for path in mapped if not (ROOT / path).exists()) == [], "the code map names files that do not exist"
