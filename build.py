"""Thin entry point: `python build.py CMD ...` is `newsdigest CMD ...`."""

import sys

try:
    from newsdigest.cli import run
except ModuleNotFoundError as missing:
    # Run with a Python that lacks the project's packages (not the venv): say how to get them.
    sys.exit(f"newsdigest: the package {missing.name!r} is not installed for {sys.executable}; "
             "run `make build` once, then use .venv/bin/newsdigest (or .venv/bin/python "
             "build.py)")

if __name__ == "__main__":
    run()
