"""The published claims the study checks, as data (claims.yaml), and their one lookup.

claims.yaml holds every claim (paper value, table, dataset, metric, experiment), the papers'
internal inconsistencies, the test-set sizes they state or imply, the orderings they assert, and
the few paper tables the inconsistency checks recompute. These are targets, never results.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CLAIMS_PATH = Path(__file__).resolve().parent / "claims.yaml"


@lru_cache(maxsize=None)
def load_claims(path: str = str(CLAIMS_PATH)) -> dict:
    """The claims file as a dict: defaults, claims, inconsistencies, test_sets, comparisons, paper_tables."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
