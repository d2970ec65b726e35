"""Dataset readers: MOSE (synthetic), YouTube-VOS meta form, DAVIS 2017, sparse annotations, frames."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.api import FrameSource
from harness.data import Dataset, Video, open_dataset
from harness.data.checks import check_dataset
from harness.data.masks import write_label_png
from harness.errors import DataError


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format="JPEG", quality=95)


def tiny_video(image_dir: Path, ann_dir: Path, n: int, h: int, w: int, labels_at: dict[int, np.ndarray],
               step: int = 1) -> None:
    rng = np.random.default_rng(n)
    for i in range(n):
        write_jpeg(image_dir / f"{i * step:05d}.jpg", rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    for i, lab in labels_at.items():
        write_label_png(ann_dir / f"{i * step:05d}.png", lab)


def blob(h: int, w: int, **ids_at: tuple[int, int]) -> np.ndarray:
    lab = np.zeros((h, w), np.uint8)
    for key, (y, x) in ids_at.items():
        lab[y:y + 4, x:x + 4] = int(key[1:])
    return lab


def test_mose_reader_on_synth(synth_data: Path) -> None:
    ds = open_dataset(synth_data)
    assert isinstance(ds, Dataset)
    assert ds.videos == ("synth000", "synth001", "synth002")
    assert ds.meta_path == synth_data / "meta.json"
    meta = json.loads((synth_data / "meta.json").read_text())["videos"]
    for v in ds:
        assert isinstance(v, Video)
        assert len(v) == 12 and v.frame_names[0] == "00000" and v.frame_names[-1] == "00011"
        assert (v.height, v.width) == (96, 128)
        assert v.annotated == tuple(range(12)) and v.gt_complete
        assert set(v.objects) == {int(k) for k in meta[v.name]["objects"]}
        for oid, first in v.objects.items():
            assert (v.gt(first) == oid).any()
            assert all(not (v.gt(i) == oid).any() for i in v.annotated if i < first)
        assert set(v.attributes) == set(v.objects)
        assert isinstance(v.frames, FrameSource)
        f = v.frames.frame(3)
        assert f.shape == (96, 128, 3) and f.dtype == np.uint8
        assert v.gt(0).any()  # the first frame is never empty
    assert check_dataset(ds, decode_frames=True) == ()


def test_objects_added_mid_video(synth_data: Path) -> None:
    ds = open_dataset(synth_data)
    late = {(v.name, o): f for v in ds for o, f in v.objects.items() if f > 0}
    assert late, "the synthetic set must have objects that first appear after frame 0"


def test_stream_order_reverse_and_early_stop(synth_data: Path) -> None:
    frames = open_dataset(synth_data).video("synth001").frames
    got = [(i, f.copy()) for i, f in frames.stream()]
    assert [i for i, _ in got] == list(range(12))
    assert all(np.array_equal(f, frames.frame(i)) for i, f in got)
    assert [i for i, _ in frames.stream(2, 6, reverse=True)] == [5, 4, 3, 2]
    assert [i for i, _ in frames.stream(10, 99)] == [10, 11]
    before = threading.active_count()
    it = frames.stream()
    next(it)
    it.close()  # consumer stops early: the prefetch thread must end
    assert threading.active_count() == before
    with pytest.raises(IndexError):
        frames.frame(12)


def test_sparse_annotations(make_synth) -> None:
    root = make_synth(videos=1, frames=12, annotate_every=5)
    v = open_dataset(root).video("synth000")
    assert len(v) == 12 and v.annotated == (0, 5, 10, 11)
    assert json.loads((root / "meta.json").read_text())["videos"]["synth000"]["length"] == 4
    assert v.gt_path(5).name == "00005.png" and v.gt(5).shape == (64, 80)
    with pytest.raises(DataError, match="no ground truth"):
        v.gt(3)
    assert all(f in v.annotated for f in v.objects.values())
    assert v.frames.frame(3).shape == (64, 80, 3)  # predictions are due for unannotated frames too


def test_youtube_vos_meta_form(tmp_path: Path) -> None:
    h, w = 24, 32
    # Frames every 5 (YouTube-VOS 6 fps names); object 2 first annotated on the third frame.
    tiny_video(tmp_path / "JPEGImages" / "vidA", tmp_path / "Annotations" / "vidA", 4, h, w,
               {0: blob(h, w, o1=(2, 2)), 2: blob(h, w, o1=(2, 2), o2=(10, 10))}, step=5)
    meta = {"videos": {"vidA": {"objects": {
        "1": {"category": "cat", "frames": ["00000", "00005", "00010", "00015"]},
        "2": {"category": "dog", "frames": ["00010", "00015"]}}}}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    ds = open_dataset(tmp_path)
    assert ds.meta.form == "youtube"
    v = ds.video("vidA")
    assert v.frame_names == ("00000", "00005", "00010", "00015")
    assert dict(v.objects) == {1: 0, 2: 2}
    assert v.annotated == (0, 2)
    assert v.gt_length == 4 and not v.gt_complete  # validation split: first-appearance masks only
    assert (v.height, v.width) == (h, w)  # from the first JPEG when the meta has no size


def test_davis_layout(tmp_path: Path) -> None:
    h, w = 20, 28
    for name in ("bear", "car"):
        labs = {i: blob(h, w, o1=(1 + i, 1), o2=(10, 10 + i)) for i in range(5)}
        tiny_video(tmp_path / "JPEGImages" / "480p" / name, tmp_path / "Annotations" / "480p" / name, 5, h, w, labs)
    (tmp_path / "ImageSets" / "2017").mkdir(parents=True)
    (tmp_path / "ImageSets" / "2017" / "val.txt").write_text("car\nbear\n")
    ds = open_dataset(tmp_path, layout="davis")
    assert ds.videos == ("car", "bear") and ds.meta is None and ds.meta_path is None
    v = ds.video("bear")
    assert len(v) == 5 and v.annotated == tuple(range(5)) and dict(v.objects) == {1: 0, 2: 0}
    meta = ds.derived_meta()
    assert meta.videos["bear"].length == 5 and set(meta.videos["bear"].objects) == {1, 2}
    with pytest.raises(DataError, match="split file"):
        open_dataset(tmp_path, layout="davis", split="test-dev")


def test_unknown_video_and_layout(synth_data: Path) -> None:
    ds = open_dataset(synth_data)
    with pytest.raises(DataError, match="nope"):
        ds.video("nope")
    with pytest.raises(DataError, match="layout"):
        open_dataset(synth_data, layout="kitti")
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(synth_data / "missing")


def test_irregular_numbering_and_split(tmp_path: Path) -> None:
    """Frames kept only where annotated (irregular steps) are fine; a MOSE split is a sub-folder."""
    root = tmp_path / "valid"
    h, w = 16, 16
    for i, stem in enumerate(["00000", "00005", "00010", "00012", "00017"]):
        write_jpeg(root / "JPEGImages" / "v" / f"{stem}.jpg", np.full((h, w, 3), i * 40, np.uint8))
    write_label_png(root / "Annotations" / "v" / "00000.png", blob(h, w, o3=(2, 2)))
    (root / "meta.json").write_text('{"videos": {"v": {"objects": {"3": {}}}}}')  # MOSE layout needs its meta
    v = open_dataset(tmp_path, split="valid").video("v")
    assert v.frame_names[3] == "00012" and dict(v.objects) == {3: 0}
    with pytest.raises(DataError, match="split 'train'"):
        open_dataset(tmp_path, split="train")


def test_data_layer_imports_stay_light() -> None:
    code = ("import sys, harness.data, harness.data.writer, harness.data.synth, harness.data.submission, "
            "harness.data.checks; print(sorted(m for m in ('cv2', 'torch', 'mlflow', 'sam2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cv2_and_pillow_decode_identically(synth_data: Path) -> None:
    """The default cv2 decoder gives the same pixels as Pillow (what the official SAM2 loader uses)."""
    from harness.data.frames import decode_jpeg

    for v in open_dataset(synth_data):
        path = v.frame_path(5)
        assert np.array_equal(decode_jpeg(path, backend="cv2"), decode_jpeg(path, backend="pil"))
