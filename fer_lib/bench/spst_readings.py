"""Readings of P4's SPST block, counted in closed form, checked against P4 Table 2, and searched.

P4 Table 2 prints the parameters and "GFLOPs" (multiply-adds, see fer_lib.bench.complexity) of Swin-T with
SPST in place of the blocks of stage 1, 2, 3 or 4: eight figures. Our reading (fer_lib/models/swin_spst_ema.py)
was sized on one of them, the stage-4 parameter count; the other seven test it independently.

A reading of SPST at stage k (stages counted as in the model module; Swin-T widths C = 96, 192, 384, 768 on
maps of side S = 56, 28, 14, 7) is SparseSwin's SparTa block with these free choices:

    tokens   T latent tokens: a fixed count, or the input positions divided by s
    width    D: a fixed width, or m times the width C_k of the replaced stage
    depth    L transformer layers (pre-norm, qkv bias), MLP ratio r
    convert  a KxK conv C_in -> D before the Linear over positions that makes the latent tokens
    source   'merged': the map stage k's blocks see (stage k keeps the patch merging before it);
             'unmerged': the previous stage's output before that merging (SparseSwin's placement; the merging
             is dropped). Stage 1 has no merging before it: both read the patch-embedding output.
    out      stages 1-3: LayerNorm, Linear T -> S_k^2 over tokens, Linear D -> C_k (the map handed on);
             stage 4: LayerNorm(D), mean over tokens, Linear(D, 7) in place of Swin's norm and head

Parameters and multiply-adds follow in closed form (`reading_counts`); the tests check them against the
models the zoo builds. `search_readings` scans a stated family (SEARCH_FAMILY) for a reading that matches
all eight figures at once: parameters within 0.1 %, GFLOPs within 0.01.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fer_lib.bench.complexity import count_flops
from fer_lib.claims.paper_figures import PAPER_FIGURES
from fer_lib.models import count_params, create_model

DIMS = (96, 192, 384, 768)
SIDES = (56, 28, 14, 7)
DEPTHS = (2, 2, 6, 2)
HEADS = (3, 6, 12, 24)
CLASSES, WINDOW = 7, 7
PARAMS_REL_TOL, GFLOPS_ABS_TOL = 0.001, 0.01   # what counts as a match with one of P4's figures
STAGES = (1, 2, 3, 4)


@dataclass(frozen=True)
class Reading:
    """One reading of SPST (see the module docstring); token_div / width_mult None: fixed tokens / width."""

    tokens: int = 49
    width: int = 512
    depth: int = 2
    mlp_ratio: float = 4.0
    kernel: int = 3
    source: str = "merged"
    token_div: int | None = None
    width_mult: float | None = None

    def at(self, stage: int) -> tuple[int, int, int, int, bool]:
        """(C_in, S_in, T, D, merging dropped) at a stage."""
        dropped = self.source == "unmerged" and stage > 1
        c_in, s_in = (DIMS[stage - 2], SIDES[stage - 2]) if dropped else (DIMS[stage - 1], SIDES[stage - 1])
        tokens = s_in * s_in // self.token_div if self.token_div else self.tokens
        width = int(self.width_mult * DIMS[stage - 1]) if self.width_mult else self.width
        return c_in, s_in, tokens, width, dropped


KEPT = Reading()   # the study's reading: 49 tokens, width 512, 2 layers, 3x3 conv, on the 7x7x768 map


def _block(c: int, side: int, heads: int) -> tuple[int, int]:
    """(params, MACs) of one Swin-T block of width c on a side x side map (7x7 windows)."""
    return 12 * c * c + 13 * c + 169 * heads, side * side * (12 * c * c + 2 * WINDOW * WINDOW * c)


def _merging(stage: int) -> tuple[int, int]:
    """(params, MACs) of the patch merging before stage k (k >= 2)."""
    c0, c1, s = DIMS[stage - 2], DIMS[stage - 1], SIDES[stage - 1]
    return 8 * c0 + 4 * c0 * c1, s * s * 4 * c0 * c1


def _stage_blocks(stage: int) -> tuple[int, int]:
    """(params, MACs) of the blocks of stage k of Swin-T."""
    params, macs = _block(DIMS[stage - 1], SIDES[stage - 1], HEADS[stage - 1])
    return DEPTHS[stage - 1] * params, DEPTHS[stage - 1] * macs


def swin_t_counts() -> tuple[int, int]:
    """(params, MACs) of Swin-T with a 7-class head at 224 px, in closed form."""
    params = 48 * 96 + 96 + 2 * 96 + 2 * 768 + 768 * CLASSES + CLASSES
    macs = 56 * 56 * 48 * 96 + 768 * CLASSES
    for k in STAGES:
        p, m = _stage_blocks(k)
        params, macs = params + p, macs + m
        if k > 1:
            p, m = _merging(k)
            params, macs = params + p, macs + m
    return params, macs


def _sparta(c_in: int, s_in: int, tokens, width, depth, ratio: float, kernel: int, stage: int) -> tuple[Any, Any]:
    """(params, MACs) of the SparTa block with its output part (any argument may be a numpy array)."""
    positions, out_pos, c_out = s_in * s_in, SIDES[stage - 1] ** 2, DIMS[stage - 1]
    params = kernel * kernel * c_in * width + width + positions * tokens + tokens
    params = params + depth * ((4 + 2 * ratio) * width * width + (9 + ratio) * width) + 2 * width
    macs = positions * kernel * kernel * c_in * width + width * positions * tokens
    macs = macs + depth * (tokens * (4 + 2 * ratio) * width * width + 2 * tokens * tokens * width)
    if stage < 4:
        params = params + tokens * out_pos + out_pos + width * c_out + c_out
        macs = macs + width * tokens * out_pos + out_pos * width * c_out
    else:
        params = params + CLASSES * width + CLASSES - (2 * 768 + 768 * CLASSES + CLASSES)
        macs = macs + CLASSES * width - 768 * CLASSES
    return params, macs


def _whole_model(sparta: tuple[Any, Any], stage: int, dropped: bool) -> tuple[Any, Any]:
    """Swin-T's counts with stage k's blocks (and the dropped merging) replaced by a SparTa's counts."""
    base_p, base_m = swin_t_counts()
    blocks_p, blocks_m = _stage_blocks(stage)
    merge_p, merge_m = _merging(stage) if dropped else (0, 0)
    return base_p - blocks_p - merge_p + sparta[0], base_m - blocks_m - merge_m + sparta[1]


def reading_counts(reading: Reading, stage: int) -> tuple[int, int]:
    """(params, MACs) of Swin-T (7 classes, 224 px) with SPST of this reading at `stage`, in closed form."""
    c_in, s_in, tokens, width, dropped = reading.at(stage)
    sparta = _sparta(c_in, s_in, tokens, width, reading.depth, reading.mlp_ratio, reading.kernel, stage)
    params, macs = _whole_model(sparta, stage, dropped)
    return int(round(params)), int(round(macs))


def table2_targets() -> dict[int, tuple[float, float]]:
    """P4 Table 2: {stage: (parameters, GFLOPs)}, from fer_lib.claims.paper_figures (cited targets)."""
    by_label = {f.label: f for f in PAPER_FIGURES}
    return {k: (by_label[f"P4 SPST({k})"].params, by_label[f"P4 SPST({k})"].gflops) for k in STAGES}


def swin_t_target() -> float:
    """P4's GFLOPs of the original Swin-T (Tables 2 and 6)."""
    return next(f.gflops for f in PAPER_FIGURES if f.label == "P4 Swin-T (original)")


def table2_check(reading: Reading = KEPT, build: bool = True) -> pd.DataFrame:
    """One row per stage: our parameters and GMACs of SPST at that stage beside P4 Table 2, with the differences.

    build=True builds each model (fer_lib.models) and counts it (parameters, torch's FLOP counter), so the table
    is the models' own counts; the closed form is given beside (`params (closed form)`) and must agree.
    Only the kept reading can be built; `fitted` marks the one figure the reading was sized on.
    """
    rows = []
    for stage, (p_params, p_gflops) in table2_targets().items():
        params, macs = reading_counts(reading, stage)
        row = {"SPST at stage": stage, "params (closed form)": params, "GMACs (closed form)": macs / 1e9}
        if build:
            model = create_model("swin_spst_ema", spst_stage=stage)
            params, macs = count_params(model), count_flops(model, 224) // 2
        gmacs = macs / 1e9
        row.update({"params (ours)": params, "params (P4)": int(p_params), "params diff": params - int(p_params),
                    "params diff %": 100 * (params - p_params) / p_params, "GFLOPs (ours, GMACs)": gmacs,
                    "GFLOPs (P4)": p_gflops, "GFLOPs diff": gmacs - p_gflops,
                    "params match": abs(params - p_params) <= PARAMS_REL_TOL * p_params,
                    "GFLOPs match": abs(gmacs - p_gflops) <= GFLOPS_ABS_TOL,
                    "fitted": "params" if stage == 4 and reading == KEPT else ""})
        rows.append(row)
    return pd.DataFrame(rows)


def unfitted_matches(check: pd.DataFrame) -> tuple[int, int]:
    """(figures of Table 2 matched, of them the ones the reading was not fitted to) in a `table2_check` table."""
    matched = int(check["params match"].sum() + check["GFLOPs match"].sum())
    fitted = int((check["fitted"].eq("params") & check["params match"]).sum())
    return matched, matched - fitted


# The family `search_readings` scans: every combination, one reading for all four stages.
SEARCH_FAMILY: dict[str, Any] = dict(
    tokens=tuple(range(1, 4097)),                      # fixed latent token counts
    token_divs=(1, 4, 7, 16, 49, 64, 196),             # or T = input positions / s (where s divides them)
    widths=tuple(range(16, 2049, 16)),                 # fixed widths
    width_mults=(0.25, 0.5, 2 / 3, 1.0, 4 / 3, 2.0, 3.0, 4.0),  # or D = m * C_k (C_k: the replaced stage's width)
    depths=(*range(0, 13), "stage"),                   # "stage": the replaced stage's own depth (2, 2, 6, 2)
    mlp_ratios=(1, 2, 3, 4),
    kernels=(1, 3),
    sources=("merged", "unmerged"),
)
CONVENTIONS = ("as counted", "anchored on Swin-T")  # GMACs as our counter gives them / shifted by P4's Swin-T gap


def describe_family(family: dict[str, Any] = SEARCH_FAMILY) -> str:
    """The family in words, with its ranges (for the finding and the notebook)."""
    def span(values):
        numbers, words = [v for v in values if not isinstance(v, str)], [v for v in values if isinstance(v, str)]
        text = (f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 8 else
                ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in numbers))
        return text + "".join(f" or {w}" for w in words) + (f" ({len(values)} values)" if len(values) > 8 else "")
    return (f"tokens T fixed {span(family['tokens'])} or input positions / s, s in {span(family['token_divs'])}; "
            f"width D fixed {span(family['widths'])} or m x the stage's width, m in {span(family['width_mults'])}; "
            f"depth {span(family['depths'])} (stage: the replaced stage's own depth); MLP ratio {span(family['mlp_ratios'])}; convert conv "
            f"{span(family['kernels'])} (kernel); latent tokens from {' or '.join(family['sources'])} map "
            f"(merged: the stage keeps the patch merging before it; unmerged: dropped, SparTa reads the previous "
            f"stage's output); GFLOPs {' or '.join(CONVENTIONS)}; one reading for all four stages")


def _axis_tables(family: dict[str, Any], source: str) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Per-stage token and width arrays (rows: candidates) with their labels, for one source."""
    tokens, t_labels = [np.array([[t] * 4 for t in family["tokens"]], dtype=float)], [str(t) for t in family["tokens"]]
    for s in family["token_divs"]:
        positions = [Reading(source=source).at(k)[1] ** 2 for k in STAGES]
        if all(p % s == 0 for p in positions):
            tokens.append(np.array([[p // s for p in positions]], dtype=float))
            t_labels.append(f"positions/{s}")
    widths, w_labels = [np.array([[w] * 4 for w in family["widths"]], dtype=float)], [str(w) for w in family["widths"]]
    for m in family["width_mults"]:
        widths.append(np.array([[int(m * c) for c in DIMS]], dtype=float))
        w_labels.append(f"{m:.3g} x C_k")
    return np.concatenate(tokens), t_labels, np.concatenate(widths), w_labels


def _counts_grid(tokens: np.ndarray, widths: np.ndarray, depth: int | str, ratio: float, kernel: int,
                 source: str) -> tuple[np.ndarray, np.ndarray]:
    """(params, GMACs) arrays of shape (tokens, widths, 4 stages) for one (depth, ratio, kernel, source)."""
    params = np.empty((len(tokens), len(widths), 4))
    gmacs = np.empty_like(params)
    for i, stage in enumerate(STAGES):
        c_in, s_in, _, _, dropped = Reading(source=source).at(stage)
        t, w = tokens[:, i][:, None], widths[:, i][None, :]
        sparta = _sparta(c_in, s_in, t, w, DEPTHS[i] if depth == "stage" else depth, ratio, kernel, stage)
        p, m = _whole_model(sparta, stage, dropped)
        params[:, :, i], gmacs[:, :, i] = p, m / 1e9
    return params, gmacs


def _score(params: np.ndarray, gmacs: np.ndarray, targets: dict[int, tuple[float, float]],
           offsets: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(params matched, GFLOPs matched, best convention index, error) per candidate."""
    p_target = np.array([targets[k][0] for k in STAGES])
    g_target = np.array([targets[k][1] for k in STAGES])
    p_err = np.abs(params - p_target) / p_target
    n_params = (p_err <= PARAMS_REL_TOL).sum(-1)
    g_errs = [np.abs(gmacs + off - g_target) for off in offsets]
    n_gflops = np.stack([(e <= GFLOPS_ABS_TOL + 1e-12).sum(-1) for e in g_errs])
    best = n_gflops.argmax(0)
    error = p_err.sum(-1) + np.take_along_axis(np.stack([(e / g_target).sum(-1) for e in g_errs]), best[None], 0)[0]
    return n_params, np.take_along_axis(n_gflops, best[None], 0)[0], best, error


def search_readings(family: dict[str, Any] = SEARCH_FAMILY, targets: dict[int, tuple[float, float]] | None = None,
                    swin_gflops: float | None = None, top: int = 10) -> tuple[dict[str, Any], pd.DataFrame]:
    """Scan `family` (default SEARCH_FAMILY, see describe_family) for a reading of SPST that matches P4 Table 2.

    Every reading is one choice of tokens, width, depth, MLP ratio, convert kernel and source for all four stages;
    it matches a figure when its parameters are within 0.1 % of P4's or its GMACs within 0.01 of P4's GFLOPs,
    counted as our counter counts, or anchored on Swin-T (shifted by P4's Swin-T GFLOPs minus ours: a counter
    that also counts what ours leaves out). targets: {stage: (params, GFLOPs)} (default P4 Table 2).
    Returns (summary, the `top` readings by figures matched then by summed relative error).
    """
    targets = targets or table2_targets()
    swin_gflops = swin_t_target() if swin_gflops is None else swin_gflops
    offsets = (0.0, swin_gflops - swin_t_counts()[1] / 1e9)
    start, best_rows = time.perf_counter(), []
    summary = dict(readings=0, all_eight=0, all_four_params=0, all_four_gflops=0, most_matched=0)
    for source in family["sources"]:
        tokens, t_labels, widths, w_labels = _axis_tables(family, source)
        for depth in family["depths"]:
            for ratio in family["mlp_ratios"] if depth else family["mlp_ratios"][:1]:
                for kernel in family["kernels"]:
                    params, gmacs = _counts_grid(tokens, widths, depth, ratio, kernel, source)
                    n_p, n_g, conv, err = _score(params, gmacs, targets, offsets)
                    total = n_p + n_g
                    summary["readings"] += total.size
                    summary["all_eight"] += int((total == 8).sum())
                    summary["all_four_params"] += int((n_p == 4).sum())
                    summary["all_four_gflops"] += int((n_g == 4).sum())
                    summary["most_matched"] = max(summary["most_matched"], int(total.max()))
                    order = np.lexsort((err.ravel(), -total.ravel()))[:top]
                    for flat in order:
                        i, j = np.unravel_index(flat, total.shape)
                        best_rows.append(dict(
                            tokens=t_labels[i], width=w_labels[j], depth=depth, mlp_ratio=ratio, kernel=kernel,
                            source=source, gflops_as=CONVENTIONS[conv[i, j]], matched=int(total[i, j]),
                            params_matched=int(n_p[i, j]), gflops_matched=int(n_g[i, j]), error=float(err[i, j]),
                            **{f"params s{k}": int(params[i, j, k - 1]) for k in STAGES},
                            **{f"GFLOPs s{k}": float(gmacs[i, j, k - 1] + offsets[conv[i, j]]) for k in STAGES}))
    print(f"[spst_readings] searched {summary['readings']:,} readings in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)   # logged, never recorded: the record must not change from build to build
    best = pd.DataFrame(best_rows).sort_values(["matched", "error"], ascending=[False, True]).head(top)
    return summary, best.reset_index(drop=True)


def search_finding(summary: dict[str, Any], family: dict[str, Any] = SEARCH_FAMILY) -> str:
    """The search's result in one paragraph, with the family it covered."""
    verdict = (f"{summary['all_eight']:,} reading(s) match all eight figures" if summary["all_eight"]
               else "no reading matches all eight figures")
    return (f"Searched {summary['readings']:,} readings of SPST ({describe_family(family)}); "
            f"a match is parameters within {100 * PARAMS_REL_TOL:g} % and GFLOPs within {GFLOPS_ABS_TOL:g}. "
            f"{verdict}; the best matches {summary['most_matched']} of 8; {summary['all_four_params']:,} match all "
            f"four parameter counts, {summary['all_four_gflops']:,} all four GFLOPs.")


def kept_reading_line(check: pd.DataFrame) -> str:
    """How many of Table 2's eight figures a `table2_check` table's reading matches, fitted and not."""
    matched, unfitted = unfitted_matches(check)
    return (f"the kept reading matches {matched} of Table 2's 8 figures; {unfitted} of the 7 it was not fitted to "
            f"(it was sized on the stage-4 parameter count)")
