"""``python -m bench run …`` and ``python -m bench report``: see ``bench/cli.py``."""

from bench.cli import main

main()
