"""The stages import only downward: a package may use the ones below it, never one above."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsdigest"
# Bottom to top, in the order a build runs them; modules of one rank may use each other.
RANKS = [
    {"errors", "fingerprint", "urls", "parallel", "store", "outputs", "__init__"},
    {"config"},
    {"content"},
    {"stories"},
    {"images"},
    {"render"},
    {"build"},
    {"serve"},
    {"check", "deploy", "init", "ingest"},
    {"cli", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(RANKS) for name in names}


def imported(tree: ast.Module) -> set[str]:
    """The newsdigest modules a module imports, anywhere in it, as dotted paths below it."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "newsdigest":
                found |= {alias.name for alias in node.names if alias.name != "__version__"}
            elif node.module.startswith("newsdigest."):
                found.add(node.module.removeprefix("newsdigest."))
        elif isinstance(node, ast.Import):
            found |= {alias.name.removeprefix("newsdigest.") for alias in node.names
                      if alias.name.startswith("newsdigest.")}
    return found


def test_every_import_points_down_the_stages():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).with_suffix("").parts
        top = module[0]
        for target in imported(ast.parse(path.read_text(encoding="utf-8"))):
            target_top = target.split(".")[0]
            if target_top != top and RANK[target_top] > RANK[top]:
                upward.append(f"{'/'.join(module)} -> {target}")
    assert upward == []


def test_every_module_belongs_to_a_stage():
    tops = {path.relative_to(PACKAGE).parts[0].removesuffix(".py")
            for path in PACKAGE.rglob("*.py")}
    assert tops <= set(RANK)
