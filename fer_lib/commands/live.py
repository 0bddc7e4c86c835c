"""`live`: real-time recognition (P1 section 5.4) on a webcam, a video, an image or a folder of images."""

from __future__ import annotations

import argparse

from fer_lib.live import LiveOptions, run_live


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `live SOURCE --run RUN_DIR --out PATH [--which] [--device] [--detector] [--smooth N] ...`."""
    parser.description = ("Faces in a webcam, a video, an image or a folder of images, detected with MTCNN and "
                           "classified by a run the study trained; writes an annotated video/images, an FPS report "
                           "(<out>.fps.json/.md) and optionally a per-frame prediction log.")
    parser.add_argument("source", help="webcam index (digits), a video file, an image, or a folder of images")
    parser.add_argument("--run", required=True, dest="run_dir", metavar="RUN_DIR",
                        help="a run directory (results/runs/<experiment>/<run_id>) holding manifest.json + checkpoints/")
    parser.add_argument("--out", required=True, help="annotated output: an .mp4 for video/webcam, an image file or a "
                                                     "directory for images/folders")
    parser.add_argument("--which", default="best", choices=["best", "last"], help="checkpoint to load (default best)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.add_argument("--detector", default="mtcnn", choices=["mtcnn", "full"],
                        help="mtcnn (P1), or full: the whole image is one face (already-cropped face images)")
    parser.add_argument("--smooth", type=int, default=1, metavar="N",
                        help="average each tracked face's probabilities over its last N frames (video/webcam)")
    parser.add_argument("--log", default=None, metavar="PATH", help="per-frame predictions to a .csv or .json file")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames / images")
    parser.add_argument("--show", action="store_true", help="also show a window (only when a display exists)")
    parser.add_argument("--margin", type=float, default=0.2,
                        help="crop margin on each side, as a fraction of the face box (default 0.2)")
    parser.add_argument("--max-side", type=int, default=640,
                        help="frames are downscaled to this longest side for detection (0: never; default 640)")
    parser.add_argument("--min-face", type=int, default=40, help="smallest face to detect, in frame pixels (default 40)")
    parser.add_argument("--min-conf", type=float, default=0.9, help="minimum MTCNN face probability (default 0.9)")
    parser.add_argument("--color", default="auto", choices=["auto", "gray", "rgb"],
                        help="crop colour: auto follows the run's training data (grayscale datasets -> gray)")
    parser.add_argument("--native-size", type=int, default=0, metavar="PX",
                        help="first resize crops to the training images' resolution (e.g. 48 for FER2013); 0: off")
    parser.add_argument("--detect-every", type=int, default=1, metavar="N",
                        help="video/webcam: run MTCNN on every N-th frame only, reusing its boxes in between "
                             "(faster on CPU; default 1: every frame, as P1)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--quiet", action="store_true", help="do not print the speed report")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    """Check the numeric options, then run the live pipeline."""

    if args.smooth < 1:
        raise ValueError("--smooth must be >= 1 (1: no smoothing)")
    if args.detect_every < 1:
        raise ValueError("--detect-every must be >= 1")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError("--max-frames must be >= 1")
    run_live(LiveOptions(
        source=args.source, run_dir=args.run_dir, out=args.out, which=args.which, device=args.device,
        detector=args.detector, smooth=args.smooth, log=args.log, max_frames=args.max_frames, show=args.show,
        margin=args.margin, max_side=args.max_side, min_face=args.min_face, min_conf=args.min_conf,
        color=args.color, native_size=args.native_size, threads=args.threads, detect_every=args.detect_every,
        quiet=args.quiet))
    return 0
