"""Every published claim points at something the study can run or build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fer_lib.config import list_configs, load_config
from fer_lib.models import list_models
from fer_lib.claims import load_claims

PAPERS = Path(__file__).resolve().parents[2] / "shared" / "papers"


def test_every_claim_names_an_existing_config_on_the_claimed_dataset():
    configs = set(list_configs())
    for claim in load_claims()["claims"]:
        names = [claim["experiment"]] if "experiment" in claim else []
        names += [n for n in claim.get("experiments", []) if isinstance(n, str)]
        for name in names:
            assert name in configs, f"claim {claim['id']}: no config fer_lib/configs/{name}.yaml"
            cfg = load_config(name, "full")
            assert cfg["paper"] == claim["paper"], f"claim {claim['id']}: {name} is a {cfg['paper']} config"
            if "dataset" in claim and "experiment" in claim:
                assert cfg["data"]["dataset"] == claim["dataset"], \
                    f"claim {claim['id']}: {name} trains on {cfg['data']['dataset']}, the claim is about {claim['dataset']}"


def test_model_claims_name_registered_models():
    models = set(list_models())
    for claim in load_claims()["claims"]:
        for name in [claim.get("model")] + [m for m in claim.get("models", []) if isinstance(m, str)]:
            if name is not None:
                assert name in models, f"claim {claim['id']}: unknown model {name}"


def test_model_of_names_a_config_of_the_claims_paper_and_its_model():
    models = set(list_models())
    for claim in load_claims()["claims"]:
        if "model_of" in claim:
            cfg = load_config(claim["model_of"], "full")
            assert cfg["paper"] == claim["paper"] and cfg["model"]["name"] in models, claim["id"]


@pytest.mark.skipif(not PAPERS.is_dir(), reason="paper digests not next to this checkout")
def test_quotes_are_the_digests_quoted_words():
    """A `quote` holds words the paper digest puts in quotation marks; a paraphrase goes in `note`."""
    digests = {p.name[:2]: p.read_text() for p in PAPERS.glob("P*.md")}
    data = load_claims()
    for item in [*data["claims"], *data.get("claim_groups", [])]:
        if "quote" not in item:
            continue
        quoted = re.findall(r'"([^"]+)"', " ".join(digests[item["paper"]].replace("**", "").split()))
        assert any(item["quote"] in q for q in quoted), f"{item['id']}: {item['quote']!r} is not quoted in the digest"
