"""``python -m tui --home H [--lang en]``: the terminal UI without the CLI around it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import run_tui


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui", description=__doc__)
    parser.add_argument("--home", type=Path, default=None, help="the node home")
    parser.add_argument("--lang", choices=("zh", "en"), default=None)
    args = parser.parse_args(argv)
    home = args.home
    if home is None:
        from node import default_home

        home = default_home()
    return run_tui(home, lang=args.lang)


if __name__ == "__main__":
    sys.exit(main())
