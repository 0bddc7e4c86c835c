"""Notebook 10's steps: every configuration's measured complexity beside the papers' figures, the papers'
ratios measured, where the SPST model's multiply-adds go, and the overview figure (tables and figures
saved under results/<section>/)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch
from pandas.io.formats.style import Styler

from fer_lib.bench.complexity import (SPEED_PROFILES, compare_with_papers, complexity_table, flops_by_module,
                                      ratio_table)
from fer_lib.bench.spst_readings import kept_reading_line, search_finding, search_readings, table2_check
from fer_lib.claims.paper_figures import PAPER_FIGURES, table_entries
from fer_lib.devices import cpu_threads, device_label, resolve_device
from fer_lib.models import create_model
from fer_lib.outputs import save_figure, save_table

SHOWN_COLUMNS = ["label", "model", "input_size", "params", "paper_params", "params_match", "gflops", "gmacs",
                 "paper_gflops"]
PAPER_COLORS = {"P1": "tab:blue", "P2": "tab:green", "P3": "tab:orange", "P4": "tab:red"}
SWIN_T = "P4 Swin-T (original)"
SPST4 = "P4 SPST(4)"


def setup(device: str, profile: str, measure_speed: bool, seed: int) -> tuple[torch.device, dict[str, Any]]:
    """(device, speed settings of the profile): seeds torch and prints both."""
    torch.manual_seed(seed)
    dev = resolve_device(device)
    speed = SPEED_PROFILES[profile]
    print("device:", device_label(dev), "| speed settings:", speed if measure_speed else "off")
    return dev, speed


def speed_columns(table: pd.DataFrame) -> list[str]:
    """The table's timing columns (fps_b1, img_per_s_b<B>)."""
    return [c for c in table.columns if c.startswith(("fps_b", "img_per_s_b"))]


def complexity_tables(dev: torch.device, measure_speed: bool, speed: dict[str, Any],
                      section: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, joined): every paper configuration measured, and joined with the papers' figures (saved as
    "complexity")."""
    table = complexity_table(table_entries(), device=dev, measure_speed=measure_speed, **speed)
    joined = compare_with_papers(table)
    save_table(joined.assign(options=joined.options.astype(str)), section, "complexity")
    return table, joined


def complexity_view(joined: pd.DataFrame) -> Styler:
    """The joined table as shown: counts with thousands separators, FLOPs and speeds rounded."""
    speed_cols = speed_columns(joined)
    shown = joined[[*SHOWN_COLUMNS, *speed_cols, "paper_fps", "source"]]
    return shown.style.format({"params": "{:,.0f}", "paper_params": "{:,.0f}", "gflops": "{:.3f}", "gmacs": "{:.3f}",
                               **{c: "{:.1f}" for c in speed_cols}}, na_rep="-")


def paper_ratios(table: pd.DataFrame, section: str) -> pd.DataFrame:
    """The papers' stated ratios beside the measured ones (saved as "ratios")."""
    ratios = ratio_table(table)
    save_table(ratios, section, "ratios")
    return ratios


def spst_breakdown(joined: pd.DataFrame, threads: int | None, section: str) -> pd.DataFrame:
    """GMACs of Swin-T's stage 4 and of the SparTa block's parts (saved as "spst_flops_breakdown"); prints the
    gap between our SPST(4) and Swin-T GMACs and P4's printed GFLOPs."""
    with cpu_threads(threads):
        swin_parts = flops_by_module(create_model("swin_t"), 224, depth=3)
        spst_parts = flops_by_module(create_model("swin_spst_ema", spst_stage=4), 224, depth=3)
    parts = pd.concat([swin_parts[swin_parts.module.isin(["(total)", "layers.3.blocks"])].assign(model="Swin-T"),
                       spst_parts[spst_parts.module.isin(["(total)", "spst", "spst.convert", "spst.blocks",
                                                          "spst.to_latent"])].assign(model="SPST(4)")],
                      ignore_index=True)
    p4 = {f.label: f for f in PAPER_FIGURES}
    ours = joined.set_index("label")
    gap = ours.loc[SPST4, "gmacs"] - p4[SPST4].gflops
    print(f"SPST(4): ours {ours.loc[SPST4, 'gmacs']:.3f} GMACs, P4 prints {p4[SPST4].gflops} "
          f"-> gap {gap:.3f}; Swin-T: ours {ours.loc[SWIN_T, 'gmacs']:.3f}, "
          f"P4 prints {p4[SWIN_T].gflops}")
    save_table(parts, section, "spst_flops_breakdown")
    return parts


def spst_table2(section: str | None, threads: int | None = 1) -> pd.DataFrame:
    """Our SPST at each stage (the models built and counted) beside P4 Table 2's parameters and GFLOPs, with the
    differences, saved as "spst_table2" of `section` (one writer: notebook 10; None shows it without saving);
    prints how many of the eight figures the kept reading matches."""
    with cpu_threads(threads):
        check = table2_check(build=True)
    print(kept_reading_line(check))
    if section is not None:
        save_table(check, section, "spst_table2")
    return check


def spst_search(section: str, top: int = 10) -> pd.DataFrame:
    """The search for a reading of SPST that matches all of P4 Table 2 (the full family, under a minute on one
    core): the `top` readings (saved as "spst_reading_search"), the finding printed and saved as its note."""
    summary, best = search_readings(top=top)
    finding = search_finding(summary)
    print(finding)
    save_table(best, section, "spst_reading_search")
    save_table(pd.DataFrame([{**summary, "finding": finding}]), section, "spst_reading_search_summary")
    return best


def _size_panel(ax: plt.Axes, joined: pd.DataFrame) -> None:
    """Parameters vs GMACs of every configuration, log-log, coloured by paper."""
    tag = joined.label.str.split().str[0]
    for paper, rows in joined.groupby(tag):
        ax.scatter(rows.params / 1e6, rows.gmacs, label=paper, color=PAPER_COLORS.get(paper, "gray"))
        for _, r in rows.iterrows():
            ax.annotate(r.label.split(" ", 1)[-1], (r.params / 1e6, r.gmacs), fontsize=7, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("GMACs per image (model's input size)")
    ax.set_title("Measured size and compute")
    ax.legend()


def _speed_panel(ax: plt.Axes, joined: pd.DataFrame, table: pd.DataFrame, measure_speed: bool) -> None:
    """P4's variants: speed relative to Swin-T, as P4 printed it and as timed here (batched img/s)."""
    p4_rows = joined[joined.label.str.startswith("P4")].set_index("label")
    rel = pd.DataFrame({"P4 (RTX 3060)": p4_rows.paper_fps / p4_rows.loc[SWIN_T, "paper_fps"]})
    if measure_speed:
        for col in speed_columns(table):
            if col != "fps_b1":
                rel[f"ours {col}"] = p4_rows[col] / p4_rows.loc[SWIN_T, col]
    rel.plot.barh(ax=ax)
    ax.axvline(1.0, color="k", lw=0.8)
    timed_on = table.device.iloc[0] if measure_speed else "not timed"
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("speed relative to Swin-T")
    ax.set_title(f"P4 variants: speed vs Swin-T (ours: {timed_on})")


def complexity_overview(joined: pd.DataFrame, table: pd.DataFrame, measure_speed: bool, section: str) -> plt.Figure:
    """Size and compute of every configuration beside P4's speed ratios (saved as "complexity_overview")."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    _size_panel(axes[0], joined)
    _speed_panel(axes[1], joined, table, measure_speed)
    fig.tight_layout()
    save_figure(fig, section, "complexity_overview")
    return fig
