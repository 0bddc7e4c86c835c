"""The steps of notebook 01 (data exploration), each one call: load and list the datasets, their count
tables, FER2013 against the papers' tables, sample grids, the duplicate audit's galleries, label noise
and per-split digests. Each step saves what it shows under the section's results folder."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

from fer_lib import outputs
from fer_lib.claims import paper_tables
from fer_lib.data import audit, explore
from fer_lib.data.core import FERDataset
from fer_lib.paths import data_dir as resolve_data_dir

Loaded = dict[str, tuple[FERDataset | None, str]]


def load_datasets(data_dir: str | os.PathLike | None = None) -> tuple[Loaded, dict[str, FERDataset]]:
    """Try every registered dataset, print the data dir and one line per dataset; (all tried, those available)."""
    loaded = explore.load_all(data_dir)
    print(f"data dir: {resolve_data_dir(data_dir)}")
    for name, (ds, why) in loaded.items():
        print(f"{name:18s}", f"{len(ds):,} images" if ds is not None else f"not available: {why}")
    return loaded, {name: ds for name, (ds, _) in loaded.items() if ds is not None}


def show_count_tables(available: dict[str, FERDataset], section: str) -> None:
    """Save (as counts_<name>) and show the class x split count table of every available dataset."""
    for name, ds in available.items():
        table = explore.count_table(ds)
        outputs.save_table(table, section, f"counts_{name}")
        print(name)
        display(table)


def show_paper_comparisons(fer: FERDataset | None, section: str) -> None:
    """FER2013 against P1 Table 1 and P3 Table 1's test supports (when FER2013 is here) and P1 Table 4's
    splits (always: checked on its own numbers without FER2013); each table saved and shown."""
    if fer is None:
        print("FER2013 not available: the per-class comparisons are skipped; P1 Table 4 is checked on its own numbers")
    else:
        table1 = explore.compare_counts(explore.class_totals(fer), paper_tables.P1_TABLE1_FER2013, "P1 Table 1")
        outputs.save_table(table1, section, "fer2013_vs_p1_table1")
        display(table1)
        supports = explore.compare_counts(explore.class_totals(fer, ["PublicTest", "PrivateTest"]),
                                          paper_tables.P3_TABLE1_TEST_SUPPORT, "P3 Table 1 support")
        outputs.save_table(supports, section, "fer2013_test_vs_p3_table1")
        display(supports)
    table4 = explore.p1_table4_comparison(fer)
    outputs.save_table(table4, section, "p1_table4_check")
    display(table4)


def show_sample_grids(available: dict[str, FERDataset], section: str, seed: int = 0, per_class: int = 8) -> None:
    """Save (as samples_<name>) and show a seeded grid of `per_class` images per class for every dataset."""
    for name, ds in available.items():
        fig = explore.sample_grid(ds, per_class=per_class, seed=seed)
        path = outputs.save_figure(fig, section, f"samples_{name}")
        plt.close(fig)
        display(Image(filename=str(path)))


def audit_datasets(available: dict[str, FERDataset]) -> tuple[list[FERDataset], list[dict]]:
    """(the datasets to audit, their audits): every available dataset but FERPlus, which is FER2013's images."""
    unique = [ds for name, ds in available.items() if name != "ferplus"]
    return unique, [audit.audit_dataset(ds) for ds in unique]


def save_pair_galleries(datasets: list[FERDataset], audits: list[dict], section: str) -> None:
    """Save (not show: dataset images, local only) the gallery of pairs at the threshold, as
    near_duplicates_<name>, for each dataset that has any."""
    for result, ds in zip(audits, datasets):
        if len(result["pairs at threshold"]):
            fig = audit.pairs_gallery(ds, result["pairs at threshold"])
            outputs.save_figure(fig, section, f"near_duplicates_{ds.name}")
            plt.close(fig)


def show_label_noise(available: dict[str, FERDataset], section: str) -> None:
    """FER2013's labels against the FERPlus majority (label_noise_ferplus, label_agreement_ferplus), saved and
    shown, or say that it needs both datasets."""
    if "fer2013" in available and "ferplus" in available:
        noise = audit.label_noise_table(available["fer2013"], available["ferplus"])
        agreement = audit.label_agreement(available["fer2013"], available["ferplus"]).reset_index()
        outputs.save_table(noise, section, "label_noise_ferplus")
        outputs.save_table(agreement, section, "label_agreement_ferplus")
        display(noise, agreement)
    else:
        print("label noise needs both FER2013 and FERPlus")


def split_digests(available: dict[str, FERDataset]) -> pd.DataFrame:
    """The sha256 of each split's decoded images and labels, one table over every available dataset."""
    return pd.concat([audit.split_digests(ds).assign(dataset=name) for name, ds in available.items()])
