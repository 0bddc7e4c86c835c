"""`python -m fer_lib data ...` and the table/figure helpers the data notebooks call."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest

from fer_lib.cli import main
from fer_lib.data import explore, load_dataset, resample_plan
from fer_lib.claims.paper_tables import P1_TABLE1_FER2013


def _run(argv) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def test_describe_synthetic_prints_split_class_count_csv(tmp_path):
    code, text = _run(["data", "describe", "synthetic", "--data-dir", str(tmp_path), "-o", "n_per_class=20"])
    assert code == 0
    table = pd.read_csv(io.StringIO(text))
    assert list(table.columns) == ["split", "class", "count"] and len(table) == 3 * 7
    assert table["count"].sum() == 140 and set(table["split"]) == {"train", "val", "test"}


def test_describe_missing_dataset_fails_with_advice(tmp_path, capsys):
    assert main(["data", "describe", "rafdb", "--data-dir", str(tmp_path)]) == 2
    assert "list_patition_label.txt" in capsys.readouterr().err


def test_list_names_every_dataset(tmp_path):
    code, text = _run(["data", "list", "--data-dir", str(tmp_path)])
    assert code == 0 and "synthetic" in text and "fer2013_affectnet" in text


@pytest.mark.real_data
def test_describe_real_fer2013(real_data_dir):
    code, text = _run(["data", "describe", "fer2013", "--data-dir", str(real_data_dir)])
    table = pd.read_csv(io.StringIO(text))
    assert table.groupby("split")["count"].sum().to_dict() == {"Training": 28709, "PublicTest": 3589,
                                                               "PrivateTest": 3589}
    assert table.groupby("class")["count"].sum().to_dict() == P1_TABLE1_FER2013      # P1 Table 1


def test_explore_tables_and_figures(tmp_path):
    loaded = explore.load_all(tmp_path, names=["synthetic", "jaffe"])
    avail = explore.availability_table(loaded)
    assert list(avail["available"]) == [True, False]
    assert avail.loc[1, "source_or_reason"].startswith("not available: dataset 'jaffe' not found")
    ds = loaded["synthetic"][0]
    counts = explore.count_table(ds)
    assert list(counts.columns) == ["class", "train", "val", "test", "total"]
    assert counts.iloc[-1]["total"] == len(ds)
    stats = explore.pixel_stats(ds)
    flat = ds.images.astype(float) / 255
    assert stats["mean"] == pytest.approx(flat.mean(), abs=1e-4) and stats["std"] == pytest.approx(flat.std(), abs=1e-4)
    montage, available = explore.sample_montage(ds, per_class=3, tile=32)
    assert montage.shape == (7 * 34, 3 * 34, 3) and available == [400] * 7
    fig = explore.sample_grid(ds, per_class=3)
    assert len(fig.axes) == 1
    import matplotlib.pyplot as plt
    plt.close("all")
    plan = resample_plan(ds.labels, ds.class_names, {"Disgust": 2.0}, seed=0)
    assert len(explore.resample_figure(plan, "synthetic").axes) == 2
    weights = explore.weights_table(ds.labels, ds.class_names)
    assert np.allclose(weights["inverse_frequency"], 1.0)


def test_p1_table4_findings_are_flagged():
    table = explore.p1_table4_comparison(None).set_index("dataset")
    assert "total 38,887 != FER2013 size" in table.loc["FER2013", "finding"]
    assert "total 22,224 != P1 Table 2 total 22,244" in table.loc["AffectNet", "finding"]
    assert table.loc["FER+AffectNet", "finding"] == "consistent"
    ours = {"Angry": 4953, "Disgust": 547, "Fear": 5121, "Happy": 8989, "Neutral": 6198, "Sad": 6077, "Surprise": 4001}
    cmp = explore.compare_counts(ours, P1_TABLE1_FER2013, "P1 Table 1").set_index("class")
    assert cmp.loc["Surprise", "flag"] == "DIFFERS" and cmp.loc["Angry", "flag"] == ""


@pytest.mark.real_data
def test_p1_table4_against_real_fer2013(real_data_dir):
    fer = load_dataset("fer2013", real_data_dir)
    row = explore.p1_table4_comparison(fer).set_index("dataset").loc["FER2013"]
    assert row["ours_train"] == 28709 and row["ours_total"] == 35887
    assert "train: paper 31,709 vs ours 28,709" in row["finding"]
