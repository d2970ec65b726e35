"""A TraX CSRT server with planted faults, for tests/test_trax_runtime.py (runs in the test's venv).

Faults, each ``VIDEO@K`` (the K-th frame request, 0 = initialize, of a session on video VIDEO;
the video is the frame path's parent folder):
    --crash VIDEO@K     write a message to stderr and exit with status 3
    --crash-once VIDEO@K  the same, only the first time (a file in --state DIR remembers it): a
                        transient fault, for the retry policy
    --hang VIDEO@K      sleep (far past any per-frame timeout)
    --garbage VIDEO@K   answer a rectangle with negative width and height
and ``--slow-start N --state DIR``: the N-th process started (counted with files in DIR; the
method's handshake probe is start 1) sleeps 600 s before it connects.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"
sys.path.insert(0, str(HARNESS))

from trax_csrt_server import CSRT  # noqa: E402
from trax_server import serve  # noqa: E402


def _spec(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    video, k = text.rsplit("@", 1)
    return video, int(k)


def _start_number(state: Path) -> int:
    state.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        try:
            os.close(os.open(state / f"start-{n}", os.O_CREAT | os.O_EXCL))
            return n
        except FileExistsError:
            n += 1


def _crashed_before(state: Path) -> bool:
    """False the first time (and remembers it), True after: one crash per ``state`` folder."""
    state.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(state / "crashed-once", os.O_CREAT | os.O_EXCL))
        return False
    except FileExistsError:
        return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crash")
    ap.add_argument("--crash-once")
    ap.add_argument("--hang")
    ap.add_argument("--garbage")
    ap.add_argument("--slow-start", type=int, default=0)
    ap.add_argument("--state")
    args = ap.parse_args()
    if args.slow_start and _start_number(Path(args.state)) == args.slow_start:
        time.sleep(600)
    crash, hang, garbage = _spec(args.crash), _spec(args.hang), _spec(args.garbage)
    once = _spec(args.crash_once)
    print("fault server: started (this line goes to stdout: socket mode keeps it off the protocol)", flush=True)

    class Faulty(CSRT):
        def __init__(self) -> None:
            super().__init__()
            self.k = 0

        def _fault(self, path: str):
            here = (Path(path).parent.name, self.k)
            self.k += 1
            if here == crash:
                print(f"fault server: planted crash on {path}", file=sys.stderr, flush=True)
                os._exit(3)
            if here == once and not _crashed_before(Path(args.state)):
                print(f"fault server: planted one-off crash on {path}", file=sys.stderr, flush=True)
                os._exit(4)
            if here == hang:
                time.sleep(600)
            return here == garbage

        def initialize(self, path: str, box) -> None:
            self._fault(path)
            super().initialize(path, box)

        def track(self, path: str):
            bad = self._fault(path)
            box = super().track(path)
            return (box[0], box[1], -5.0, -7.0) if bad else box

    serve(Faulty, name="csrt-faulty")


if __name__ == "__main__":
    main()
