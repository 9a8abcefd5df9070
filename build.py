"""Thin entry point: `python build.py CMD ...` is `newsdigest CMD ...`."""

from newsdigest.cli import run

if __name__ == "__main__":
    run()
