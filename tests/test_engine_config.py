"""Experiment configs: profiles and base inheritance merge, unknown keys are rejected, every config loads."""

from __future__ import annotations

import pytest
import yaml

from fer_lib.config import CONFIG_DIR, deep_merge, expand_dotted, list_configs, load_config


def _write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


MINIMAL = {
    "experiment": "x", "paper": "P0",
    "model": {"name": "tiny_cnn"},
    "data": {"dataset": "synthetic", "input_size": 48,
             "splits": {"train": ["train"], "val": ["val"], "test": ["test"]}},
    "train": {"epochs": 5, "batch_size": 32},
    "profiles": {"smoke": {"train": {"epochs": 1}, "data": {"splits": {"ratios": [0.6, 0.2, 0.2]}}}},
}


def test_profile_merges_and_replaces_splits(tmp_path):
    path = _write(tmp_path / "x.yaml", MINIMAL)
    smoke = load_config(path, "smoke")
    full = load_config(path, "full")
    assert smoke["train"]["epochs"] == 1 and full["train"]["epochs"] == 5
    assert smoke["train"]["batch_size"] == 32  # untouched keys survive the merge
    assert smoke["data"]["splits"] == {"ratios": [0.6, 0.2, 0.2]}  # splits are replaced whole, not merged
    assert full["data"]["splits"]["train"] == ["train"]
    assert smoke["profile"] == "smoke" and "profiles" not in smoke
    assert full["optim"]["name"] == "adam"  # defaults fill what the file leaves out


def test_overrides_dotted_and_nested(tmp_path):
    path = _write(tmp_path / "x.yaml", MINIMAL)
    cfg = load_config(path, "smoke", {"train.epochs": 3, "optim": {"lr": 0.5}})
    assert cfg["train"]["epochs"] == 3 and cfg["optim"]["lr"] == 0.5
    assert expand_dotted({"a.b.c": 1}) == {"a": {"b": {"c": 1}}}
    assert deep_merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}) == {"a": {"x": 1, "y": 3}}


@pytest.mark.parametrize("where,bad", [
    ("top", {"epochz": 3}),
    ("section", {"train": {"epochz": 3}}),
    ("profile", {"profiles": {"smoke": {"optim": {"learning_rate": 1}}}}),
    ("augment", {"augment": {"flip": 0.5}}),
])
def test_unknown_keys_are_rejected_by_name(tmp_path, where, bad):
    data = deep_merge(MINIMAL, bad)
    path = _write(tmp_path / "x.yaml", data)
    with pytest.raises(ValueError, match=r"epochz|learning_rate|flip"):
        load_config(path, "smoke")


def test_bad_override_and_bad_values(tmp_path):
    path = _write(tmp_path / "x.yaml", MINIMAL)
    with pytest.raises(ValueError, match="nonsense"):
        load_config(path, "smoke", {"train.nonsense": 1})
    with pytest.raises(ValueError, match="optim.name"):
        load_config(path, "smoke", {"optim.name": "lion"})
    with pytest.raises(ValueError, match="no profile"):
        load_config(path, "medium")
    with pytest.raises(FileNotFoundError, match="no experiment config"):
        load_config("does_not_exist")


def test_base_inheritance_and_cycles(tmp_path, monkeypatch):
    monkeypatch.setattr("fer_lib.config.CONFIG_DIR", tmp_path)
    _write(tmp_path / "parent.yaml", {**MINIMAL, "abstract": True, "experiment": "parent",
                                      "balance": {"class_weights": "inverse_frequency"}})
    _write(tmp_path / "child.yaml", {"base": "parent", "experiment": "child", "model": {"name": "resnet50"},
                                     "balance": {"resample": {"Disgust": 2.0}}})
    cfg = load_config("child", "smoke")
    assert cfg["experiment"] == "child" and cfg["model"]["name"] == "resnet50"
    assert cfg["train"]["epochs"] == 1  # the parent's profile applies to the child
    assert cfg["balance"]["resample"] == {"Disgust": 2.0} and cfg["balance"]["class_weights"] is None
    with pytest.raises(ValueError, match="abstract"):
        load_config("parent", "smoke")
    assert list_configs() == ["child"]
    _write(tmp_path / "a.yaml", {"base": "b"})
    _write(tmp_path / "b.yaml", {"base": "a"})
    with pytest.raises(ValueError, match="cycle"):
        load_config("a")


def test_every_config_loads_and_names_registered_model_and_dataset():
    from fer_lib.data import list_datasets
    from fer_lib.models import list_models

    names = list_configs()
    assert {"p3_resnet50_weighted", "p3_resnet50_resampled", "p1_swin_se_resnet_fer2013", "p2_lc2fer_c5_aug",
            "p4_swin_spst_ema"} <= set(names)
    assert {f"p2_lc2fer_c{i}" for i in range(1, 9)} <= set(names)
    models, datasets = set(list_models()), set(list_datasets())
    for name in names:
        for profile in ("smoke", "full"):
            cfg = load_config(name, profile)
            assert cfg["experiment"] == name, f"{name}.yaml: experiment must equal the file name"
            assert cfg["model"]["name"] in models, f"{name} ({profile}): unknown model {cfg['model']['name']}"
            assert cfg["data"]["dataset"] in datasets, f"{name} ({profile}): unknown dataset"
        assert load_config(name, "smoke")["data"]["dataset"] == "synthetic", f"{name}: smoke must use synthetic data"


def test_paper_numbers_are_cited():
    """Every config file comments its choices (paper table/section or 'ours')."""
    for path in CONFIG_DIR.glob("*.yaml"):
        text = path.read_text()
        assert "# P" in text or "# ours" in text, path.name


def test_p1_and_p2_recipes_match_the_papers():
    p1 = load_config("p1_swin_se_resnet_fer2013", "full")
    assert (p1["optim"]["name"], p1["optim"]["lr"], p1["train"]["batch_size"]) == ("adam", 1e-4, 32)  # P1 Table 5
    assert (p1["schedule"]["step_size"], p1["schedule"]["gamma"], p1["train"]["epochs"]) == (10, 0.1, 50)
    assert p1["train"]["early_stopping"] == {"metric": "val_acc", "patience": 10}
    p2 = load_config("p2_lc2fer_c3", "full")
    assert (p2["optim"]["name"], p2["optim"]["lr"], p2["train"]["batch_size"], p2["train"]["epochs"]) == \
        ("adamw", 1e-3, 128, 150)  # P2 Table 2.2
    aug = load_config("p2_lc2fer_c5_aug", "full")["augment"]
    assert (aug["rotate_deg"], aug["translate"], aug["zoom"]) == (9, 0.1, 0.1)  # P2 §2.3
