"""Entry point: `python server.py [serve options]` is `forestall serve`."""

import sys

from engine.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
