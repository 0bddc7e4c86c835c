"""Live recognition (P1 section 5.4): real faces (scikit-image's astronaut photo) through MTCNN and a
trained-run checkpoint, on an image, a generated video, a folder with bad files, and bad inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("facenet_pytorch")
skdata = pytest.importorskip("skimage.data")

from fer_lib.cli import main  # noqa: E402
from fer_lib.live import LiveOptions, run_live  # noqa: E402
from fer_lib.live.errors import LiveInputError  # noqa: E402
from fer_lib.live.sources import CaptureSource, open_source  # noqa: E402
from fer_lib.live.tracker import IoUTracker, ProbabilitySmoother, iou_matrix  # noqa: E402

CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
# Where Eileen Collins' face is in skimage.data.astronaut() (512x512), checked by eye and by MTCNN,
# which finds it at about x 181-268, y 62-172.
FACE_REGION = (170.0, 20.0, 280.0, 175.0)


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    return cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def small_bgr(astronaut_bgr) -> np.ndarray:
    """The astronaut at 320x320 (face about 55x70 px): cheaper to detect, still above --min-face 40."""
    return cv2.resize(astronaut_bgr, (320, 320), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory in the contract's format: manifest.json + checkpoints/best.pt of a tiny_cnn
    (untrained weights: these tests check the pipeline, not accuracy)."""
    import torch

    from fer_lib.models import create_model
    from fer_lib.runs.store import save_torch

    torch.manual_seed(0)
    model = create_model("tiny_cnn", num_classes=len(CLASSES))
    run = tmp_path_factory.mktemp("runs") / "live_test" / "20240101-000000-smoke-fer2013-s0"
    run.mkdir(parents=True)
    manifest = {"experiment": "live_test", "run_id": run.name, "paper": "P1", "profile": "smoke",
                "config": {"model": {"name": "tiny_cnn"}}, "dataset": {"name": "fer2013", "real": False},
                "seed": 0, "status": "complete"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    save_torch(run / "checkpoints" / "best.pt", dict(
        model_state=model.state_dict(), model_name="tiny_cnn", model_options=getattr(model, "model_options", {}),
        num_classes=len(CLASSES), class_names=CLASSES, input_size=48, mean=[0.485, 0.456, 0.406],
        std=[0.229, 0.224, 0.225], epoch=1, val_metric=0.0))
    return run


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _box(row: dict) -> np.ndarray:
    return np.array([float(row[k]) for k in ("x0", "y0", "x1", "y1")])


def _count_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    n = 0
    while capture.read()[0]:
        n += 1
    capture.release()
    return n


def test_astronaut_image_face_found_labelled_and_reported(run_dir, astronaut_bgr, tmp_path):
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), astronaut_bgr)
    out, log = tmp_path / "annotated.png", tmp_path / "log.csv"
    report = run_live(LiveOptions(source=str(image), run_dir=run_dir, out=out, log=log, device="cpu", quiet=True))

    rows = _read_csv(log)
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    face = rows[0]
    assert face["label"] in CLASSES and 0.0 < float(face["prob"]) <= 1.0
    probs = np.array([float(face[f"prob_{c}"]) for c in CLASSES])
    assert probs.sum() == pytest.approx(1.0, abs=1e-3) and face["label"] == CLASSES[int(probs.argmax())]
    box = _box(face)
    assert iou_matrix(box, np.array(FACE_REGION))[0, 0] > 0.4, box
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert FACE_REGION[0] < cx < FACE_REGION[2] and FACE_REGION[1] < cy < FACE_REGION[3]

    annotated = cv2.imread(str(out))
    assert annotated.shape == astronaut_bgr.shape
    green = (annotated[:, :, 1] > 150) & (annotated[:, :, 0] < 60) & (annotated[:, :, 2] < 60)
    x0, y0, x1, y1 = box.round().astype(int)
    assert green[y0 - 2:y1 + 3, x0 - 2:x1 + 3].sum() > 100  # the green box is drawn around the face

    summary = json.loads(Path(str(out) + ".fps.json").read_text())
    assert summary == report.summary
    assert summary["faces"] == 1 and summary["color"] == "gray"  # fer2013 run -> grayscale crops
    assert summary["model"] == "tiny_cnn" and summary["input_size"] == 48
    assert summary["fps_end_to_end"] > 0 and set(summary["stages"]) >= {"decode", "detect", "classify", "draw"}
    assert "FPS" in Path(str(out) + ".fps.md").read_text()


def test_video_same_frame_count_tracked_smoothed_and_logged(run_dir, small_bgr, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 320))
    for i in range(10):
        frame = np.zeros_like(small_bgr) if i == 5 else np.roll(small_bgr, 4 * i, axis=1)
        writer.write(frame)
    writer.release()
    out, log = tmp_path / "out" / "clip_live.mp4", tmp_path / "log.csv"

    code = main(["live", str(video), "--run", str(run_dir), "--out", str(out), "--device", "cpu",
                 "--smooth", "3", "--log", str(log)])
    assert code == 0
    assert _count_frames(out) == 10
    rows = _read_csv(log)
    assert sorted({int(r["frame"]) for r in rows}) == list(range(10))
    assert [r["status"] for r in rows if r["frame"] == "5"] == ["no_face"]
    faces = [r for r in rows if r["status"] == "ok"]
    assert len(faces) == 9 and {r["face_id"] for r in faces} == {"0"}  # one track across the blank frame
    moved = _box(faces[-1])[0] - _box(faces[0])[0]
    assert 26 < moved < 46  # the face moved 4 px per frame over 9 frames (36 px)
    summary = json.loads(Path(str(out) + ".fps.json").read_text())
    assert summary["frames"] == 10 and summary["frames_with_faces"] == 9 and summary["smooth"] == 3
    assert "FPS" in capsys.readouterr().out


def test_folder_colour_gray_many_tiny_blank_and_corrupt(run_dir, small_bgr, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_colour.jpg"), small_bgr)
    cv2.imwrite(str(folder / "b_gray.png"), cv2.cvtColor(small_bgr, cv2.COLOR_BGR2GRAY))  # 1-channel file
    cv2.imwrite(str(folder / "c_two.png"), np.concatenate([small_bgr, small_bgr], axis=1))
    tiny = np.zeros_like(small_bgr)
    tiny[100:164, 100:164] = cv2.resize(small_bgr, (64, 64), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(folder / "d_tiny.png"), tiny)
    blank = np.full_like(small_bgr, 128)
    cv2.imwrite(str(folder / "e_blank.png"), blank)
    (folder / "f_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg" * 20)
    out, log = tmp_path / "annotated", tmp_path / "log.json"

    report = run_live(LiveOptions(source=str(folder), run_dir=run_dir, out=out, log=log, device="cpu", quiet=True))

    assert "f_corrupt.jpg" in capsys.readouterr().err  # warned and skipped
    by_name = {r["source"]: r for r in json.loads(log.read_text())}
    assert by_name["f_corrupt.jpg"]["status"] == "unreadable"
    assert len(by_name["a_colour.jpg"]["faces"]) == 1 and len(by_name["b_gray.png"]["faces"]) == 1
    two = sorted(f["box"][0] for f in by_name["c_two.png"]["faces"])
    assert len(two) == 2 and two[1] - two[0] == pytest.approx(320, abs=8)  # both faces, one batch
    assert by_name["d_tiny.png"]["status"] in ("no_face", "ok")  # an 11 px face: below --min-face, no crash
    assert by_name["e_blank.png"]["status"] == "no_face" and by_name["e_blank.png"]["faces"] == []
    assert sorted(p.name for p in out.iterdir()) == ["a_colour.jpg", "b_gray.png", "c_two.png", "d_tiny.png",
                                                      "e_blank.png"]
    assert np.array_equal(cv2.imread(str(out / "e_blank.png")), blank)  # passes through unannotated
    assert report.summary["frames_unreadable"] == 1 and "f_corrupt.jpg" in report.summary["skipped"][0]
    assert Path(str(out) + ".fps.json").exists()


def test_corrupt_midvideo_frame_does_not_end_the_run(run_dir, small_bgr, tmp_path, monkeypatch):
    class FlakyCapture:  # a decoder that fails on frame 2 of 5
        def __init__(self):
            self.i = 0

        def get(self, prop):
            return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_COUNT: 5.0}.get(prop, 0.0)

        def read(self):
            self.i += 1
            if self.i > 5:
                return False, None
            return (False, None) if self.i == 3 else (True, small_bgr.copy())

        def release(self):
            pass

    import fer_lib.live.pipeline as pipeline

    monkeypatch.setattr(pipeline, "open_source", lambda spec, n: CaptureSource(FlakyCapture(), "video", "video x.mp4", n))
    out = tmp_path / "x_live.mp4"
    report = run_live(LiveOptions(source="x.mp4", run_dir=run_dir, out=out, device="cpu", quiet=True))
    assert report.summary["frames"] == 5 and report.summary["frames_unreadable"] == 1
    assert report.summary["frames_with_faces"] == 4
    assert _count_frames(out) == 5  # the undecodable frame is written black, timing preserved


def test_bad_inputs_give_clear_errors(run_dir, tmp_path, capsys):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"garbage" * 50)
    with pytest.raises(LiveInputError, match="broken.jpg"):
        run_live(LiveOptions(source=str(corrupt), run_dir=run_dir, out=tmp_path / "o.png", quiet=True))
    assert main(["live", str(corrupt), "--run", str(run_dir), "--out", str(tmp_path / "o.png")]) == 2
    assert "broken.jpg" in capsys.readouterr().err

    with pytest.raises(LiveInputError, match="webcam 9"):
        open_source("9")
    with pytest.raises(LiveInputError, match="does not exist"):
        open_source(str(tmp_path / "missing.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LiveInputError, match="no images"):
        open_source(str(tmp_path / "empty"))

    no_ckpt = tmp_path / "run_without_checkpoint"
    no_ckpt.mkdir()
    (no_ckpt / "manifest.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"best\.pt.*python -m fer_lib train"):
        run_live(LiveOptions(source=str(corrupt), run_dir=no_ckpt, out=tmp_path / "o.png", quiet=True))
    assert main(["live", "0", "--run", str(no_ckpt), "--out", str(tmp_path / "o.mp4")]) == 2
    assert "checkpoints/best.pt" in capsys.readouterr().err


def test_tracker_keeps_ids_and_smoother_averages():
    tracker = IoUTracker(iou_threshold=0.3, max_missed=1)
    a, b = [0, 0, 10, 10], [50, 50, 60, 60]
    assert tracker.update(np.array([a, b])) == [0, 1]
    assert tracker.update(np.array([[52, 51, 62, 61], [1, 0, 11, 10]])) == [1, 0]  # order-independent
    assert tracker.update(np.zeros((0, 4))) == []
    assert tracker.update(np.array([[1, 0, 11, 10]])) == [0]        # one missed frame: same id
    assert tracker.update(np.array([[200, 200, 210, 210]])) == [2]  # new face, new id
    smoother = ProbabilitySmoother(window=2)
    smoother(0, np.array([1.0, 0.0]))
    assert np.allclose(smoother(0, np.array([0.0, 1.0])), [0.5, 0.5])
    assert np.allclose(smoother(0, np.array([0.0, 1.0])), [0.0, 1.0])  # window of 2
    assert np.allclose(ProbabilitySmoother(1)(0, np.array([0.2, 0.8])), [0.2, 0.8])


def test_full_frame_detector_matches_the_runs_own_preprocessing(run_dir, astronaut_bgr, tmp_path):
    """A 48x48 grayscale face (FER2013-like) with --detector full gets exactly the probabilities the
    run's evaluation path (TrainedModel.predict_proba) gives it: same crop, colour and normalisation."""
    import torch

    from fer_lib.engine.rebuild import load_trained_model

    gray = cv2.resize(cv2.cvtColor(astronaut_bgr[40:200, 145:305], cv2.COLOR_BGR2GRAY), (48, 48),
                      interpolation=cv2.INTER_AREA)
    image, log = tmp_path / "face48.png", tmp_path / "log.json"
    cv2.imwrite(str(image), gray)
    run_live(LiveOptions(source=str(image), run_dir=run_dir, out=tmp_path / "o", log=log, detector="full",
                         device="cpu", quiet=True))
    face = json.loads(log.read_text())[0]["faces"][0]
    assert face["box"] == [0.0, 0.0, 48.0, 48.0]
    expected = load_trained_model(run_dir).predict_proba(torch.from_numpy(gray)[None])[0].numpy()
    assert np.allclose([face["probs"][c] for c in CLASSES], expected, atol=1e-4)
