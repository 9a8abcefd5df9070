"""Thin entry point: `python build.py CMD ...` is `newsdigest CMD ...`."""

import sys
from importlib.util import find_spec

# Looked for before anything runs: a build that finds nothing changed imports none of them,
# and one that does would stop midway with a traceback.
NEEDED = ("yaml", "frontmatter", "markdown", "jinja2")

try:
    missing = next((name for name in NEEDED if find_spec(name) is None), None)
    if missing is not None:
        raise ModuleNotFoundError(name=missing)
    from newsdigest.cli import run
except ModuleNotFoundError as absent:
    # Run with a Python that lacks the project's packages (not the venv): say how to get them.
    sys.exit(f"newsdigest: the package {absent.name!r} is not installed for {sys.executable}; "
             "run `make build` once, then use .venv/bin/newsdigest (or .venv/bin/python "
             "build.py)")

if __name__ == "__main__":
    run()
