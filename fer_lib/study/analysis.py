"""What a trained model looks at and how it organises classes: features, t-SNE, Grad-CAM, entropy.

Heat-map entropy (P4 Table 3) is computed in nats over the map normalised to a probability
distribution over its pixels, so a uniform map of H x W pixels has the maximum, ln(H*W)
(ln(224*224) = 10.82 nats at 224 px).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from fer_lib.engine.predict import predict
from fer_lib.engine.rebuild import TrainedModel


def extract_features(trained: TrainedModel, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Penultimate features (B, D) of uint8 `images` via `forward_head(forward_features(x), pre_logits=True)`,
    through the study's one predict loop (the run's preprocessing, precision and memory format)."""
    model = trained.model
    features = predict(model, torch.from_numpy(np.ascontiguousarray(images)), trained.runtime, batch_size=batch_size,
                       forward=lambda x: model.forward_head(model.forward_features(x), pre_logits=True),
                       desc="features")
    return features.cpu().numpy()


def tsne_embedding(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of the features (sklearn; PCA init, seeded)."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, max(2.0, (len(features) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def plot_embedding(embedding: np.ndarray, labels: np.ndarray, class_names, title: str = "t-SNE", codes: bool = True):
    """Scatter of a 2-D embedding coloured by class (two-letter codes in the legend, as P2 Fig 2.12)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.5, 6))
    palette = sns.color_palette("tab10", len(class_names))
    for index, name in enumerate(class_names):
        mask = labels == index
        ax.scatter(embedding[mask, 0], embedding[mask, 1], s=4, alpha=0.6, color=palette[index],
                   label=name[:2].upper() if codes else name)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(markerscale=3, fontsize=8, loc="best")
    return fig


def gradcam_maps(model: nn.Module, inputs: torch.Tensor, targets: list[int] | None = None) -> np.ndarray:
    """Grad-CAM maps (B, H, W) in [0, 1] for preprocessed `inputs`, at the model's `gradcam_layers`.

    `targets` are class indices (None: the predicted class). Models with token layouts (Swin) provide
    `gradcam_reshape`, which turns their (B, H, W, C) or (B, N, C) activations into (B, C, H, W).
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model.eval()
    cam_targets = None if targets is None else [ClassifierOutputTarget(int(t)) for t in targets]
    with GradCAM(model=model, target_layers=list(model.gradcam_layers),
                 reshape_transform=getattr(model, "gradcam_reshape", None)) as cam:
        return cam(input_tensor=inputs, targets=cam_targets)


def heatmap_entropy(maps: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Shannon entropy in nats of each map (B, H, W) normalised to sum to 1; max is ln(H*W)."""
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).clip(min=0)
    totals = flat.sum(axis=1, keepdims=True)
    # an all-zero map carries no location information: treat it as uniform (maximum entropy)
    probs = np.where(totals > eps, flat / np.maximum(totals, eps), 1.0 / flat.shape[1])
    logs = np.log(np.where(probs > 0, probs, 1.0))
    return -(probs * logs).sum(axis=1)


def max_entropy(height: int, width: int) -> float:
    """The entropy of a uniform map, ln(H*W) nats."""
    return math.log(height * width)


def overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """RGB uint8 overlay of a [0,1] CAM on a uint8 image (grayscale or RGB), resized to the CAM."""
    from PIL import Image
    from pytorch_grad_cam.utils.image import show_cam_on_image

    size = cam.shape[::-1]
    rgb = Image.fromarray(image).convert("RGB").resize(size, Image.BILINEAR)
    return show_cam_on_image(np.asarray(rgb, dtype=np.float32) / 255.0, cam, use_rgb=True)


# ---------------------------------------------------------------- per-class helpers for the notebooks

def examples_per_class(labels: np.ndarray, num_classes: int, n_per_class: int, seed: int = 0) -> np.ndarray:
    """Up to n_per_class seeded random positions of each class, grouped class by class (class order)."""
    rng = np.random.default_rng(seed)
    picks = []
    for k in range(num_classes):
        where = np.flatnonzero(np.asarray(labels) == k)
        if where.size:
            picks.append(np.sort(rng.choice(where, size=min(n_per_class, where.size), replace=False)))
    return np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)


def gradcam_batches(trained, images: np.ndarray, targets: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Grad-CAM maps (N, S, S) of a fer_lib.engine.rebuild.TrainedModel for uint8 images, class `targets` each."""
    maps = []
    for start in range(0, len(images), batch_size):
        batch = trained.preprocess(torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])))
        maps.append(gradcam_maps(trained.model, batch, [int(t) for t in targets[start:start + batch_size]]))
    size = trained.input_size
    return np.concatenate(maps) if maps else np.zeros((0, size, size), dtype=np.float32)


def entropy_by_class(maps: np.ndarray, labels: np.ndarray, class_names):
    """DataFrame: mean and std of heat-map entropy (nats, maps normalised over their pixels) per class, with n.

    `zero maps` counts maps with no positive evidence at all (Grad-CAM all zero), which
    heatmap_entropy treats as uniform, i.e. at the maximum ln(H*W).
    """
    import pandas as pd

    values = heatmap_entropy(maps)
    empty = np.asarray(maps).reshape(len(maps), -1).max(axis=1) <= 0 if len(maps) else np.zeros(0, bool)
    rows = []
    for k, name in enumerate(class_names):
        mask = np.asarray(labels) == k
        v = values[mask]
        rows.append({"class": name, "n": int(v.size), "entropy": float(v.mean()) if v.size else np.nan,
                     "std": float(v.std(ddof=1)) if v.size > 1 else np.nan, "zero maps": int(empty[mask].sum())})
    return pd.DataFrame(rows)


def plot_cam_grid(rows: list[tuple[str, np.ndarray, np.ndarray, list[str]]], title: str = ""):
    """One row per model: (row label, uint8 images, CAMs, titles); each image with its CAM overlaid."""
    import matplotlib.pyplot as plt

    ncols = max(len(r[1]) for r in rows) if rows else 1
    fig, axes = plt.subplots(len(rows) or 1, ncols, figsize=(1.7 * ncols, 1.9 * max(len(rows), 1)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (label, images, cams, titles) in enumerate(rows):
        for c, (image, cam, name) in enumerate(zip(images, cams, titles)):
            axes[r, c].imshow(overlay(image, cam))
            axes[r, c].set_title(name, fontsize=7)
        axes[r, 0].text(-0.08, 0.5, label, transform=axes[r, 0].transAxes, rotation=90, ha="right", va="center",
                        fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
