"""Thin entry point: `python build.py CMD ...` is `newsdigest CMD ...`."""

import sys

from newsdigest.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
