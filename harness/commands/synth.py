"""`mosebench synth`: write a synthetic MOSE-like dataset."""

from __future__ import annotations

import argparse

HELP = "generate a synthetic MOSE-layout dataset (deterministic per seed)"


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW, e.g. 240x320, got {text!r}") from None
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="output folder (must not exist, or be a previous run with the same options)")
    parser.add_argument("--videos", type=int, default=4, help="number of regular videos (default 4)")
    parser.add_argument("--frames", type=int, default=24, help="frames per video (default 24)")
    parser.add_argument("--size", type=_size, default=(240, 320), metavar="HxW", help="frame size (default 240x320)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--annotate-every", type=int, default=1, metavar="K",
                        help="ground truth on every K-th frame and the last (default 1)")
    parser.add_argument("--long-frames", type=int, default=None, metavar="L",
                        help="also write one long video of L frames (LD when L > 300)")


def run(args: argparse.Namespace) -> int:
    from harness.data.synth import generate

    out = generate(args.out, videos=args.videos, frames=args.frames, size=args.size, seed=args.seed,
                   annotate_every=args.annotate_every, long_frames=args.long_frames)
    print(f"synthetic dataset in {out} (meta.json, attributes.json, JPEGImages/, Annotations/)")
    return 0
