"""What the YAML and Markdown engines cost on a generated corpus, against faster ones.

PyYAML (libyaml) and Python-Markdown are about a third of a clean build's work. This times
them, and Rust and C engines that could replace them, on the same front matters and bodies,
in one process each, so that the choice of engine can be made on figures. The other engines
are installed into their own environment (bench/.work/engines-venv), never into the
project's.

    python bench/engines.py [--items 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
VENV = WORK / "engines-venv"
ENGINES = ["pyyaml", "markdown", "yaml-rs", "cmarkgfm", "markdown-it-pyrs"]


def measure(content: Path) -> None:
    """Time each engine over every front matter or body (run by the engines' Python)."""
    import gc

    import cmarkgfm
    import markdown
    import markdown_it_pyrs
    import yaml
    import yaml_rs

    gc.disable()  # as in a build
    blocks, bodies = [], []
    for path in sorted(content.rglob("*.md")):
        _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
        blocks.append(front)
        if body.strip():
            bodies.append(body.strip())

    def timed(name: str, convert: Callable[[str], Any], texts: list[str]) -> list[Any]:
        started = time.perf_counter()
        out = [convert(text) for text in texts]
        print(f"| {name} | {len(texts):,} | {time.perf_counter() - started:.2f} |", flush=True)
        return out

    print("| engine | inputs | seconds |\n|---|---:|---:|")
    slow = timed("PyYAML with libyaml (yaml.load, CSafeLoader)",
                 lambda s: yaml.load(s, Loader=yaml.CSafeLoader), blocks)
    timed("PyYAML with libyaml, nodes only (yaml.compose)",
          lambda s: yaml.compose(s, Loader=yaml.CSafeLoader), blocks)
    fast = timed("yaml-rs (yaml_rs.loads)", yaml_rs.loads, blocks)
    converter = markdown.Markdown(extensions=["extra", "sane_lists"], output_format="html")

    def python_markdown(text: str) -> str:
        converter.reset()
        return converter.convert(text)

    timed("Python-Markdown (extra, sane_lists)", python_markdown, bodies)
    timed("cmarkgfm (GitHub Flavored Markdown)", cmarkgfm.github_flavored_markdown_to_html,
          bodies)
    commonmark = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(["table", "strikethrough"])
    timed("markdown-it-pyrs (CommonMark, tables)", commonmark.render, bodies)
    same = sum(a == b for a, b in zip(slow, fast, strict=True))
    print(f"\nyaml-rs gives the same values as PyYAML for {same:,} of {len(blocks):,} "
          "front matters.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # in the engines' venv
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    corpus = WORK / f"corpus-{args.items}"
    if not (corpus / "content").is_dir():
        sys.path.insert(0, str(BENCH))
        import generate

        generate.write(corpus, args.items, seed=1)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *ENGINES], check=True)
    subprocess.run([str(VENV / "bin" / "python"), __file__, "--measure", str(corpus / "content")],
                   check=True)


if __name__ == "__main__":
    main()
