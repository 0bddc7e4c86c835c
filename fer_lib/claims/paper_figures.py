"""The papers' own complexity figures, as cited targets (never results).

Each PaperFigure names the model configuration of this study that corresponds to a paper's row
and what the paper prints for it. P4's "GFLOPs" are compared with our GMACs (see
fer_lib.bench.complexity). P4 measured FPS on an RTX 3060 (P4 Table 4), batch size not stated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PaperFigure:
    """A row of a paper's complexity figures, mapped to (model, options, input_size) of this study."""

    label: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    input_size: int | None = None          # None: the model's default input size
    paper: str = ""
    params: float | None = None            # as printed; None where the paper gives none
    params_exact: bool = False             # True: printed to the unit; False: rounded (e.g. "3.4 M")
    gflops: float | None = None            # as printed (P4: multiply-accumulates)
    fps: float | None = None
    source: str = ""
    note: str = ""


PAPER_FIGURES: tuple[PaperFigure, ...] = (
    # P4 Tables 1, 2, 5, 6
    PaperFigure("P4 Swin-T (original)", "swin_t", {}, 224, "P4", 27_524_737, True, 4.51, 301,
                "P4 Tables 1, 2, 6", "also P1's Swin-T baseline"),
    PaperFigure("P4 Swin-T + EMA(2)", "swin_spst_ema", {"ema_after": 2}, 224, "P4", 27_526_225, True, 4.52, 297,
                "P4 Tables 1, 6"),
    PaperFigure("P4 SPST(4)", "swin_spst_ema", {"spst_stage": 4}, 224, "P4", 23_185_251, True, 4.12, 335,
                "P4 Tables 1, 2, 6"),
    PaperFigure("P4 SPST(4) + EMA(2)", "swin_spst_ema", {"spst_stage": 4, "ema_after": 2}, 224, "P4",
                23_186_739, True, 4.13, 330, "P4 Tables 1, 5, 6", "the proposed model"),
    PaperFigure("P4 SPST(4) + EMA(1)", "swin_spst_ema", {"spst_stage": 4, "ema_after": 1}, 224, "P4",
                23_185_635, True, None, None, "P4 Table 5"),
    PaperFigure("P4 SPST(4) + EMA(3)", "swin_spst_ema", {"spst_stage": 4, "ema_after": 3}, 224, "P4",
                23_191_107, True, source="P4 Table 5", note="EMA on the 7x7x768 stage-3 output"),
    PaperFigure("P4 SPST(4) + EMA(4)", "swin_spst_ema", {"spst_stage": 4, "ema_after": 4}, 224, "P4",
                23_187_875, True, source="P4 Table 5", note="EMA on the 7x7 latent tokens (width 512)"),
    PaperFigure("P4 SPST(1)", "swin_spst_ema", {"spst_stage": 1}, 224, "P4", 34_331_981, True, 19.06, 86,
                "P4 Table 2", "our reading: SparTa replaces stage 1's blocks only"),
    PaperFigure("P4 SPST(2)", "swin_spst_ema", {"spst_stage": 2}, 224, "P4", 29_625_428, True, 12.44, 152,
                "P4 Table 2"),
    PaperFigure("P4 SPST(3)", "swin_spst_ema", {"spst_stage": 3}, 224, "P4", 24_190_413, True, 5.84, 281,
                "P4 Table 2"),
    # P1: no size stated
    PaperFigure("P1 Swin-SE-ResNet", "swin_se_resnet", {}, 224, "P1", source="P1 (no count stated)",
                note="SE/split/pool settings are our choices"),
    PaperFigure("P1 ResNet-50 baseline", "resnet50", {}, 224, "P1", source="P1 Table 8 (no count stated)"),
    # P3: no size stated, input size not stated (48 px assumed)
    PaperFigure("P3 ResNet-50", "resnet50", {}, 48, "P3", source="P3 (no count stated)"),
    # P2 section 2 (sizes rounded to 0.1 M); C4-C8 sizes are discussed in the article but not in the digest
    PaperFigure("P2 C1", "lc2fer_c1", {}, 100, "P2", 3.4e6, False, source="P2 text", note="ConvNeXt V2-Atto"),
    PaperFigure("P2 C2", "lc2fer_c2", {}, 100, "P2", 1.9e6, False, source="P2 text", note="55.8% of C1"),
    PaperFigure("P2 C3", "lc2fer_c3", {}, 100, "P2", 7.5e6, False, source="P2 text", note="3.9x C2"),
    PaperFigure("P2 C4", "lc2fer_c4", {}, 100, "P2", source="P2 Table 2.1"),
    PaperFigure("P2 C5", "lc2fer_c5", {}, 100, "P2", source="P2 Table 2.1", note="P2's chosen trade-off"),
    PaperFigure("P2 C6", "lc2fer_c6", {}, 100, "P2", source="P2 Table 2.1"),
    PaperFigure("P2 C7", "lc2fer_c7", {}, 100, "P2", source="P2 Table 2.1"),
    PaperFigure("P2 C8", "lc2fer_c8", {}, 100, "P2", source="P2 Table 2.1", note="the smallest (P2)"),
    PaperFigure("tiny_cnn (tests)", "tiny_cnn", {}, 48, "-", source="-"),
)


@dataclass(frozen=True)
class RatioClaim:
    """A ratio a paper states between two of its rows (labels of PAPER_FIGURES)."""

    claim: str
    metric: str            # 'params', 'gmacs' or 'fps'
    numerator: str
    denominator: str
    paper_value: float
    source: str


RATIO_CLAIMS: tuple[RatioClaim, ...] = (
    RatioClaim("FPS SPST+EMA / Swin-T (+9.6%)", "fps", "P4 SPST(4) + EMA(2)", "P4 Swin-T (original)", 330 / 301,
               "P4 abstract, Table 6"),
    RatioClaim("FPS SPST / Swin-T", "fps", "P4 SPST(4)", "P4 Swin-T (original)", 335 / 301, "P4 Tables 2, 6"),
    RatioClaim("FPS Swin-T+EMA / Swin-T", "fps", "P4 Swin-T + EMA(2)", "P4 Swin-T (original)", 297 / 301,
               "P4 Table 6"),
    RatioClaim("FPS SPST(1) / Swin-T", "fps", "P4 SPST(1)", "P4 Swin-T (original)", 86 / 301, "P4 Table 2"),
    RatioClaim("FPS SPST(3) / Swin-T", "fps", "P4 SPST(3)", "P4 Swin-T (original)", 281 / 301, "P4 Table 2"),
    RatioClaim("params SPST+EMA / Swin-T (-15.8%)", "params", "P4 SPST(4) + EMA(2)", "P4 Swin-T (original)",
               23_186_739 / 27_524_737, "P4 abstract, Table 1"),
    RatioClaim("GMACs SPST+EMA / Swin-T", "gmacs", "P4 SPST(4) + EMA(2)", "P4 Swin-T (original)", 4.13 / 4.51,
               "P4 Table 6"),
    RatioClaim("params C2 / C1 (55.8%)", "params", "P2 C2", "P2 C1", 0.558, "P2 text"),
    RatioClaim("params C3 / C2 (3.9x)", "params", "P2 C3", "P2 C2", 3.9, "P2 text"),
)


def table_entries() -> list[dict[str, Any]]:
    """Entries for fer_lib.bench.complexity.complexity_table, one per paper row."""
    return [dict(label=f.label, name=f.model, options=dict(f.options), **({"input_size": f.input_size}
                                                                        if f.input_size else {}))
            for f in PAPER_FIGURES]
