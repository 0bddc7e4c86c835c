"""What is benchmarked: each paper's experiment as a case (model, paper input size, recipe), how hard a
case is timed (Settings) and under which precisions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import torch

from fer_lib.config import SCHEMA, deep_merge, expand_dotted, list_configs, load_config
from fer_lib.devices import autocast_dtype
from fer_lib.models import list_models, model_spec

PIPELINES = ("upper_bound", "ours", "usual")
NUM_CLASSES = 7
# The four papers' experiments, each at its paper input size (issue 7).
PAPER_EXPERIMENTS = {"P3": "p3_resnet50_weighted", "P2": "p2_lc2fer_c5_aug", "P1": "p1_swin_se_resnet_fer2013",
                     "P4": "p4_swin_spst_ema"}
# Native image size and channels of each dataset the benchmarked experiments train on.
NATIVE_IMAGES = {"fer2013": (48, 1), "ferplus": (48, 1), "rafdb": (100, 3), "synthetic": (48, 1)}


@dataclass
class BenchCase:
    """One model at one input size with its experiment's recipe (cfg: a merged config, fer_lib.config)."""

    paper: str
    experiment: str
    model: str
    model_options: dict
    input_size: int
    native_size: int
    channels: int
    cfg: dict = field(repr=False)

    @property
    def recipe(self) -> dict:
        """The augmentation recipe (config `augment` section)."""
        return dict(self.cfg.get("augment") or {})

    @property
    def label(self) -> str:
        return f"{self.model}@{self.input_size}"


def case_from_config(experiment: str, paper: str | None = None) -> BenchCase:
    """The benchmark case of an experiment config (its "full" profile: the paper's recipe and sizes)."""
    cfg = load_config(experiment, "full")
    dataset = cfg["data"]["dataset"]
    if dataset not in NATIVE_IMAGES:
        raise ValueError(f"bench: no native image size known for dataset {dataset!r} (experiment {experiment}); "
                         f"add it to fer_lib.bench.NATIVE_IMAGES")
    size, channels = NATIVE_IMAGES[dataset]
    return BenchCase(paper=paper or str(cfg.get("paper") or "-"), experiment=experiment, model=cfg["model"]["name"],
                     model_options=dict(cfg["model"]["options"] or {}), input_size=int(cfg["data"]["input_size"]),
                     native_size=size, channels=channels, cfg=cfg)


def make_case(model: str, input_size: int | None = None, native_size: int = 48, channels: int = 1,
              recipe: dict | None = None, model_options: dict | None = None, paper: str = "-",
              cfg_overrides: dict | None = None) -> BenchCase:
    """A case for any registered model (e.g. tiny_cnn in tests): config defaults (Adam 1e-3, plain
    cross-entropy, ImageNet mean/std) with `recipe` as the augmentation."""
    size = int(input_size or model_spec(model).input_size)
    cfg = deep_merge(SCHEMA, {"experiment": f"bench_{model}", "paper": paper,
                              "model": {"name": model, "options": dict(model_options or {})},
                              "data": {"dataset": "synthetic", "input_size": size},
                              "augment": dict(recipe or {})}, replace=frozenset())
    cfg = deep_merge(cfg, expand_dotted(cfg_overrides))
    return BenchCase(paper=paper, experiment=cfg["experiment"], model=model, model_options=dict(model_options or {}),
                     input_size=size, native_size=native_size, channels=channels, cfg=cfg)


def resolve_cases(names: Iterable[str] | None = None) -> list[BenchCase]:
    """Cases for paper tags (P1..P4), experiment names, the papers' model names or any registered model;
    None: the four papers' experiments (P3, P2, P1, P4: small to large)."""
    if not names:
        return [case_from_config(exp, paper) for paper, exp in PAPER_EXPERIMENTS.items()]
    by_model = {}
    for paper, exp in PAPER_EXPERIMENTS.items():
        case = case_from_config(exp, paper)
        by_model[case.model] = case
    cases = []
    for name in names:
        if name.upper() in PAPER_EXPERIMENTS:
            cases.append(case_from_config(PAPER_EXPERIMENTS[name.upper()], name.upper()))
        elif name in by_model:
            cases.append(by_model[name])
        elif name in list_configs():
            cases.append(case_from_config(name))
        elif name in list_models():
            cases.append(make_case(name))
        else:
            raise ValueError(f"bench: unknown model {name!r}; use a paper tag ({', '.join(PAPER_EXPERIMENTS)}), "
                             f"an experiment config ({', '.join(list_configs())}) "
                             f"or a model ({', '.join(list_models())})")
    return cases


def with_precisions(cases: Sequence[BenchCase], device: torch.device,
                    precisions: Sequence[str] | None = None) -> list[BenchCase]:
    """Each case once per distinct autocast dtype of `precisions` (default fp32 and auto) on `device`."""
    out = []
    for case in cases:
        seen = set()
        for precision in precisions or ("fp32", "auto"):
            dtype = autocast_dtype(precision, device)
            if dtype in seen:
                continue
            seen.add(dtype)
            out.append(replace(case, cfg=deep_merge(case.cfg, {"train": {"precision": precision}})))
    return out


# The engine's CPU options (fer_lib.engine.runtime): as runs use them, or all off (the benchmark's baseline).
ENGINE_OPTIONS = {"tuned": {}, "baseline": {"channels_last": False, "dwconv_fp32": False, "compile": False}}


def with_engine(cases: Sequence[BenchCase], engine: str) -> list[BenchCase]:
    """The cases with the engine options of `engine` ("tuned": the configs' own; "baseline": all off)."""
    if engine not in ENGINE_OPTIONS:
        raise ValueError(f"bench: unknown engine {engine!r} (known: {', '.join(ENGINE_OPTIONS)})")
    return [replace(case, cfg=deep_merge(case.cfg, {"train": dict(ENGINE_OPTIONS[engine])})) for case in cases]


@dataclass
class Settings:
    """How hard one case is timed.

    warmup: untimed train steps on upper-bound data before any pipeline is timed (model warm-up).
    rounds: the pipelines are timed in `rounds` blocks, in alternating order (upper, ours, usual, then
    usual, ours, upper, ...), so drifting load from other processes falls on all of them alike.
    steps: timed steps per pipeline in total (ceil(steps / rounds) per block). Each block first fetches
    one batch untimed (starts the DataLoader's workers) and runs block_warmup untimed steps.
    """

    batch: int
    warmup: int
    steps: int
    rounds: int
    block_warmup: int
    inference_batches: tuple[int, ...]
    inference_warmup: int
    inference_repeats: int

    @property
    def steps_per_block(self) -> int:
        return -(-max(1, self.steps) // self.blocks)

    @property
    def blocks(self) -> int:
        return max(1, min(self.rounds, self.steps))

    @property
    def pool_size(self) -> int:
        """Images per pipeline block: every fetched batch distinct, no DataLoader restart inside a block."""
        return self.batch * (1 + self.block_warmup + self.steps_per_block)


def default_settings(case: BenchCase, device: torch.device, quick: bool = False) -> Settings:
    """CUDA: the config's batch size, 10 warm-up steps, 30 timed steps in 3 rounds (quick: 3, 10 in 2),
    inference batches 1 and 64. CPU (always quick, for a small shared machine): the config's batch size too
    (what runs use: allocator and layout gains depend on it), 1 warm-up step, 4 timed steps in 2 rounds (2 at
    224 px), inference batches 1 and 32 (4 at 224 px)."""
    if device.type == "cuda":
        return Settings(batch=int(case.cfg["train"]["batch_size"]), warmup=3 if quick else 10,
                        steps=10 if quick else 30, rounds=2 if quick else 3, block_warmup=2,
                        inference_batches=(1, 64), inference_warmup=3 if quick else 10,
                        inference_repeats=10 if quick else 30)
    size = case.input_size
    return Settings(batch=int(case.cfg["train"]["batch_size"]), warmup=1, steps=4 if size <= 128 else 2, rounds=2, block_warmup=0,
                    inference_batches=(1, 32 if size <= 128 else 4), inference_warmup=1,
                    inference_repeats=3 if size <= 128 else 2)


def case_settings(case: BenchCase, device: torch.device, quick: bool = False, *, batch: int | None = None,
                  warmup: int | None = None, steps: int | None = None, rounds: int | None = None,
                  inference_batches: Sequence[int] | None = None) -> Settings:
    """default_settings with the given overrides (None: keep the default)."""
    s = default_settings(case, device, quick)
    return replace(s, batch=batch or s.batch, warmup=s.warmup if warmup is None else warmup,
                   steps=steps or s.steps, rounds=rounds or s.rounds,
                   inference_batches=tuple(inference_batches or s.inference_batches))
