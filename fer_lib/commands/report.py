"""`report`: rebuild results/index.html, results/index.md and the site results/site/ from what the notebooks saved."""

from __future__ import annotations

import argparse

from fer_lib.study.site import publish


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `report`."""
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    """Rebuild the report and the site; print the site's index.html."""
    print(publish())
    return 0
