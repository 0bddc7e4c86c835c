"""Every published claim points at something the study can run or build."""

from __future__ import annotations

from fer_lib.config import list_configs, load_config
from fer_lib.models import list_models
from fer_lib.claims import load_claims


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
