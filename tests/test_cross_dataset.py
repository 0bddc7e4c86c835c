"""Cross-dataset evaluation: shared label space, restricted predictions, grayscale conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fer_lib.study.cross_dataset import cross_dataset_matrix, cross_evaluate, shared_classes, to_grayscale
from fer_lib.engine.rebuild import TrainedModel
import pandas as pd


class BrightnessModel(nn.Module):
    """Classes (Angry, Disgust, Happy): Disgust always scores highest; then dark -> Angry, bright -> Happy."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach())
        b = x.mean((1, 2, 3)) - 0.5
        return torch.stack([-b, torch.full_like(b, 100.0), b], 1)


def _trained(grayscale: bool) -> TrainedModel:
    return TrainedModel(model=BrightnessModel(), class_names=["Angry", "Disgust", "Happy"], input_size=8,
                        mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], manifest={"dataset": {"grayscale": grayscale}})


def _data():
    # test set classes (Angry, Happy, Contempt): dark Angry, bright Happy, Contempt unknown to the model
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    images = np.zeros((7, 8, 8, 3), dtype=np.uint8)
    images[labels == 0] = [40, 10, 20]
    images[labels == 1] = [250, 200, 220]
    images[labels == 2] = [128, 128, 128]
    return images, labels, ("Angry", "Happy", "Contempt")


def test_shared_label_space_and_restricted_prediction():
    images, labels, names = _data()
    trained = _trained(grayscale=False)
    result = cross_evaluate(trained, images, labels, names)
    assert shared_classes(trained.class_names, names) == ["Angry", "Happy"] == result["shared"]
    assert result["dropped_from_data"] == ["Contempt"] and result["not_in_data"] == ["Disgust"]
    assert result["n"] == 5                               # the 2 Contempt images are not evaluated
    assert result["accuracy"] == pytest.approx(100.0)     # argmax over shared classes only
    assert result["accuracy_unrestricted"] == pytest.approx(0.0)  # Disgust wins over all classes
    seen = torch.cat(trained.model.inputs)
    assert seen.shape == (5, 3, 8, 8) and not torch.allclose(seen[:, 0], seen[:, 1])  # RGB kept


def test_grayscale_runs_get_luma_images():
    images, labels, names = _data()
    trained = _trained(grayscale=True)
    cross_evaluate(trained, images, labels, names)
    seen = torch.cat(trained.model.inputs)
    assert torch.equal(seen[:, 0], seen[:, 1]) and torch.equal(seen[:, 1], seen[:, 2])
    assert to_grayscale(np.array([[[[255, 0, 0]]]], dtype=np.uint8))[0, 0, 0] == 76  # 0.2989 * 255


def test_matrix_layout():
    table = pd.DataFrame([
        {"trained on": "a", "evaluated on": "x", "status": "ok", "accuracy %": 50.0},
        {"trained on": "a", "evaluated on": "y", "status": "not available: missing"},
        {"trained on": "b", "evaluated on": "x", "status": "ok", "accuracy %": 70.0},
    ])
    matrix = cross_dataset_matrix(table)
    assert list(matrix.index) == ["a", "b"] and list(matrix.columns) == ["x", "y"]
    assert matrix.loc["b", "x"] == 70.0 and np.isnan(matrix.loc["a", "y"])
