"""fer_lib.bench: the three training pipelines, the usual pipeline's tensors, ratios, written files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fer_lib import bench
from fer_lib.augment import preprocess
from fer_lib.bench import resolve_cases, with_precisions
from fer_lib.engine.runtime import make_runtime, prepare_batch

RECIPE = {"hflip": 0.5, "rotate_deg": 10, "translate": 0.1, "brightness": 0.2, "contrast": 0.2,
          "blur": {"kernel": 3, "sigma": [0.1, 1.0]}}


@pytest.fixture(scope="module")
def result():
    """One tiny benchmark (tiny_cnn, 32 px from 24-px gray images) of every pipeline, plus inference."""
    case = bench.make_case("tiny_cnn", input_size=32, native_size=24, channels=1, recipe=RECIPE)
    return bench.run_benchmark(cases=[case], device="cpu", steps=2, warmup=1, batch=4, num_workers=1,
                               inference_batches=(1, 4), profile_missed=False, log=None)


def test_every_pipeline_gives_a_positive_finite_speed(result):
    rows = result.rows
    train = rows[rows["mode"] == "train"].set_index("pipeline")
    assert list(train.index) == list(bench.PIPELINES)
    infer = rows[rows["mode"] == "inference"]
    assert sorted(infer.batch) == [1, 4]
    for v in rows.img_per_s:
        assert math.isfinite(v) and v > 0
    assert (train.step_ms_min <= train.step_ms_median).all() and (train.precision == "fp32").all()
    assert (rows.mem_kind == "cpu_peak_rss_delta").all() and (rows.peak_mem_mb >= 0).all()
    assert train.loc["usual", "num_workers"] == 1 and train.loc["ours", "augment"] != "none"


def test_files_are_written_with_the_required_columns(result, tmp_path):
    paths = bench.write_results(result, tmp_path)
    slug = result.manifest["device_slug"]
    assert paths["csv"] == tmp_path / f"{slug}.csv" and slug.startswith("cpu")
    rows = pd.read_csv(paths["csv"])
    for col in ("model", "input_size", "batch", "precision", "pipeline", "img_per_s", "peak_mem_mb", "mem_kind",
                "latency_ms"):
        assert col in rows.columns
    ratios = pd.read_csv(paths["ratios"])
    assert {"ours_over_upper", "ours_over_usual", "target", "target_met"} <= set(ratios.columns)
    manifest = json.loads(paths["manifest"].read_text())
    for key in ("device", "versions", "date", "git", "data", "cpu_capability", "auto_precision"):
        assert manifest[key]
    assert slug.endswith(manifest["cpu_capability"].replace("+", "-"))  # two CPUs of one model name never share a file
    assert manifest["git"]["commit"] and manifest["versions"]["torch"] == torch.__version__
    assert "not accuracy" in manifest["data"]
    assert "## Ratios and targets" in paths["md"].read_text()
    # the default location is results/bench/ (FER_RESULTS_DIR in tests)
    default = bench.write_results(result)
    assert default["csv"].parent == Path(os.environ["FER_RESULTS_DIR"]) / "bench"
    rows_back, ratios_back = bench.read_results()
    assert len(rows_back) == len(result.rows) and len(ratios_back) == 1


@pytest.mark.parametrize("native,channels,size", [(24, 1, 24), (24, 1, 32), (20, 3, 32)])
def test_usual_loader_matches_our_preprocessing_without_augmentation(native, channels, size):
    case = bench.make_case("tiny_cnn", input_size=size, native_size=native, channels=channels)
    rt = make_runtime(case.cfg, torch.device("cpu"))
    images, labels = bench.synthetic_images(8, native, channels, seed=1)
    loader = bench.usual_loader(images, labels, rt, batch=8, recipe={}, num_workers=0, shuffle=False)
    x_usual, y_usual = next(iter(loader))
    x_ours = prepare_batch(torch.from_numpy(images), rt)
    assert x_usual.shape == x_ours.shape == (8, 3, size, size) and x_usual.dtype == x_ours.dtype == torch.float32
    assert torch.equal(y_usual, torch.from_numpy(labels))
    if size == native:  # no resize: the two paths are the same arithmetic
        torch.testing.assert_close(x_usual, x_ours, atol=1e-5, rtol=0)
    else:  # PIL vs torch antialiased bilinear resize: same normalisation, close pixels
        assert (x_usual.mean((0, 2, 3)) - x_ours.mean((0, 2, 3))).abs().max() < 0.02
        assert (x_usual - x_ours).abs().mean() < 0.1
    torch.testing.assert_close(x_ours, preprocess(torch.from_numpy(images), size, rt.mean, rt.std))


def test_usual_transform_follows_the_recipe():
    t = bench.usual_transform({**RECIPE, "zoom": 0.1, "saturation": 0.2, "hue": 0.05}, 64, [0.5] * 3, [0.25] * 3,
                              grayscale=True)
    names = [type(op).__name__ for op in t.transforms]
    assert names == ["Resize", "RandomHorizontalFlip", "RandomRotation", "RandomAffine", "ColorJitter", "GaussianBlur",
                     "Grayscale", "ToTensor", "Normalize"]
    assert t.transforms[3].translate == (0.1, 0.1) and t.transforms[3].scale == (0.9, 1.1)
    plain = bench.usual_transform({}, 64, [0.5] * 3, [0.25] * 3, grayscale=False)
    assert [type(op).__name__ for op in plain.transforms] == ["Resize", "ToTensor", "Normalize"]


def test_ratios_are_computed_from_the_rows():
    def row(model, size, pipeline, speed, device_type="cpu"):
        return dict(paper="Px", model=model, input_size=size, batch=8, precision="fp32", device_type=device_type,
                    mode="train", pipeline=pipeline, img_per_s=speed)

    rows = pd.DataFrame([row("a", 48, "upper_bound", 100.0), row("a", 48, "ours", 90.0), row("a", 48, "usual", 60.0),
                         row("b", 224, "upper_bound", 10.0), row("b", 224, "ours", 8.0), row("b", 224, "usual", 9.0),
                         row("c", 224, "upper_bound", 1000.0, "cuda"), row("c", 224, "ours", 960.0, "cuda"),
                         row("c", 224, "usual", 300.0, "cuda"),
                         row("d", 48, "upper_bound", 1000.0, "cuda"), row("d", 48, "ours", 940.0, "cuda"),
                         row("d", 48, "usual", 900.0, "cuda"),
                         dict(row("a", 48, "inference", 1e6), mode="inference")])
    r = bench.ratio_table(rows).set_index("model")
    assert r.loc["a", "ours_over_upper"] == pytest.approx(0.9) and r.loc["a", "ours_over_usual"] == pytest.approx(1.5)
    assert r.loc["a", "target_met"] and not r.loc["b", "target_met"]                # CPU: ours >= usual
    assert r.loc["c", "ours_over_usual"] == pytest.approx(3.2) and r.loc["c", "target_met"]
    assert not r.loc["d", "target_met"]                                             # GPU: 0.94 < 0.95
    assert "ours/usual" not in r.loc["d", "target"]                                  # 3x applies at 224 px only
    missing = bench.ratio_table(rows[rows.pipeline != "usual"]).set_index("model")
    assert missing.loc["a", "target_met"] is None and np.isnan(missing.loc["a", "ours_over_usual"])


def test_cases_resolve_to_the_papers_experiments():
    cases = {c.paper: c for c in bench.resolve_cases(None)}
    assert [(cases[p].model, cases[p].input_size, cases[p].native_size, cases[p].channels) for p in
            ("P3", "P2", "P1", "P4")] == [("resnet50", 48, 48, 1), ("lc2fer_c5", 100, 100, 3),
                                          ("swin_se_resnet", 224, 48, 1), ("swin_spst_ema", 224, 100, 3)]
    assert cases["P2"].recipe["rotate_deg"] == 9 and cases["P3"].recipe.get("hflip") in (0, 0.0, None)
    assert bench.resolve_cases(["p4"])[0].experiment == "p4_swin_spst_ema"
    assert bench.resolve_cases(["lc2fer_c5"])[0].experiment == "p2_lc2fer_c5_aug"
    with pytest.raises(ValueError, match="unknown model"):
        bench.resolve_cases(["no_such_model"])


def test_fp32_and_auto_side_by_side_when_they_differ(monkeypatch):
    cases = resolve_cases(["P3"])
    monkeypatch.setenv("FER_CPU_BF16", "1")
    both = with_precisions(cases, torch.device("cpu"))
    assert [c.cfg["train"]["precision"] for c in both] == ["fp32", "auto"]
    monkeypatch.setenv("FER_CPU_BF16", "0")
    assert [c.cfg["train"]["precision"] for c in with_precisions(cases, torch.device("cpu"))] == ["fp32"]
