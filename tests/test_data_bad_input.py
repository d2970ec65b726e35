"""Every kind of bad dataset input gets a DataError naming the file/video and exit status 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cli import main
from harness.data import open_dataset
from harness.data.masks import read_label_png, write_label_png
from harness.errors import DataError


@pytest.fixture
def data(make_synth) -> Path:
    return make_synth(videos=2, frames=6, size=(48, 64), seed=5)


def cli_fails(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err


def test_truncated_png(data: Path, capsys) -> None:
    png = data / "Annotations" / "synth000" / "00002.png"
    png.write_bytes(png.read_bytes()[:40])
    with pytest.raises(DataError, match=r"00002\.png.*(corrupt|truncated)"):
        open_dataset(data).video("synth000").gt(2)
    assert "00002.png" in cli_fails(capsys, "check-data", str(data))


def test_garbage_png(data: Path) -> None:
    png = data / "Annotations" / "synth001" / "00000.png"
    png.write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"synth001/00000\.png"):
        dict(open_dataset(data).video("synth001").objects)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_corrupt_jpeg(data: Path, how: str, capsys) -> None:
    jpg = data / "JPEGImages" / "synth000" / "00003.jpg"
    raw = jpg.read_bytes()
    jpg.write_bytes(raw[: len(raw) // 2] if how == "truncated" else b"\x00" * 100)
    frames = open_dataset(data).video("synth000").frames
    with pytest.raises(DataError, match=r"00003\.jpg"):
        frames.frame(3)
    got = []
    with pytest.raises(DataError, match=r"00003\.jpg"):  # raised at that frame while streaming
        for i, _ in frames.stream():
            got.append(i)
    assert got == [0, 1, 2]
    assert "00003.jpg" in cli_fails(capsys, "check-data", str(data), "--decode-frames")


def test_rgb_mask_where_palette_expected(data: Path, capsys) -> None:
    png = data / "Annotations" / "synth000" / "00001.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(png)
    with pytest.raises(DataError, match=r"00001\.png is a RGB image; expected a palette"):
        open_dataset(data).video("synth000").gt(1)
    assert "RGB" in cli_fails(capsys, "check-data", str(data))


def test_mask_size_differs_from_frame(data: Path, capsys) -> None:
    write_label_png(data / "Annotations" / "synth001" / "00004.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(DataError, match=r"00004\.png is 32x24 .* frame is 64x48"):
        open_dataset(data).video("synth001").gt(4)
    assert "00004.png" in cli_fails(capsys, "check-data", str(data))


def test_frame_size_differs_from_meta(data: Path) -> None:
    jpg = data / "JPEGImages" / "synth000" / "00000.jpg"
    Image.new("RGB", (32, 24)).save(jpg, quality=90)
    with pytest.raises(DataError, match=r"00000\.jpg is 32x24 .* 64x48 according to its meta"):
        open_dataset(data).video("synth000").frames.frame(0)


def test_missing_frame_gap(data: Path, capsys) -> None:
    (data / "JPEGImages" / "synth000" / "00002.jpg").unlink()
    (data / "Annotations" / "synth000" / "00002.png").unlink()
    with pytest.raises(DataError, match=r"frame\(s\) missing .*synth000.*00001 is followed by 00003"):
        open_dataset(data).video("synth000")
    assert "missing" in cli_fails(capsys, "check-data", str(data))


def test_stray_file_among_numbered_frames(data: Path, capsys) -> None:
    frames = data / "JPEGImages" / "synth000"
    shutil.copy(frames / "00002.jpg", frames / "00002_copy.jpg")  # would shift every later frame index
    (frames / "notes.txt").write_text("not a frame")                # non-JPEG files stay ignored
    with pytest.raises(DataError, match=r"synth000/00002_copy\.jpg .*not a numbered frame.*remove"):
        open_dataset(data).video("synth000")
    assert "00002_copy.jpg" in cli_fails(capsys, "check-data", str(data))


def test_mask_without_frame(data: Path) -> None:
    (data / "JPEGImages" / "synth001" / "00005.jpg").unlink()  # the last frame: no gap, but its mask stays
    with pytest.raises(DataError, match=r"00005\.png has no frame .*00005\.jpg"):
        open_dataset(data).video("synth001")


def test_frame_deleted_after_open(data: Path) -> None:
    v = open_dataset(data).video("synth000")
    (data / "JPEGImages" / "synth000" / "00004.jpg").unlink()
    with pytest.raises(DataError, match=r"00004\.jpg does not exist"):
        v.frames.frame(4)


def edit_meta(data: Path, fn) -> None:
    meta = json.loads((data / "meta.json").read_text())
    fn(meta["videos"])
    (data / "meta.json").write_text(json.dumps(meta))


def test_meta_lists_video_without_folder(data: Path, capsys) -> None:
    shutil.rmtree(data / "JPEGImages" / "synth001")
    with pytest.raises(DataError, match=r"meta.json disagrees .*'synth001'"):
        open_dataset(data)
    assert "synth001" in cli_fails(capsys, "check-data", str(data))


def test_folder_not_in_meta(data: Path) -> None:
    edit_meta(data, lambda v: v.pop("synth001"))
    with pytest.raises(DataError, match=r"synth001 .*is not listed in"):
        open_dataset(data)


def test_meta_length_disagrees_with_annotations(data: Path, capsys) -> None:
    edit_meta(data, lambda v: v["synth000"].update(length=3))
    with pytest.raises(DataError, match=r"promises 3 ground-truth frames .* has 6 PNGs"):
        open_dataset(data).video("synth000")
    edit_meta(data, lambda v: v["synth000"].update(length=9))
    with pytest.raises(DataError, match=r"length 9 but only 6 frames"):
        open_dataset(data).video("synth000")
    edit_meta(data, lambda v: v["synth000"].update(length=6))
    (data / "Annotations" / "synth000" / "00003.png").unlink()
    v = open_dataset(data).video("synth000")
    assert not v.gt_complete  # allowed when reading (a validation split ships partial GT) ...
    assert "promises 6 ground-truth frames" in cli_fails(capsys, "check-data", str(data))  # ... flagged here


def test_object_ids_not_in_meta(data: Path, capsys) -> None:
    png = data / "Annotations" / "synth000" / "00002.png"
    labels = read_label_png(png)
    labels[:3, :3] = 42
    write_label_png(png, labels)
    with pytest.raises(DataError, match=r"00002\.png contains object id\(s\) \[42\] that meta.json does not list"):
        open_dataset(data).video("synth000").gt(2)
    assert "[42]" in cli_fails(capsys, "check-data", str(data))


def test_meta_object_never_in_ground_truth(data: Path) -> None:
    edit_meta(data, lambda v: v["synth000"]["objects"].update({"77": {}}))
    with pytest.raises(DataError, match=r"object\(s\) \[77\] of video 'synth000' are listed in meta.json"):
        dict(open_dataset(data).video("synth000").objects)


@pytest.mark.parametrize("text,match", [
    ("{not json", "not valid JSON"),
    ('{"vids": {}}', "'videos' mapping"),
    ('{"videos": {"synth000": {"objects": {"x": {}}}}}', "not an integer object id"),
    ('{"videos": {"synth000": {"length": -1, "objects": {}}}}', "length must be a non-negative"),
])
def test_malformed_meta(data: Path, text: str, match: str) -> None:
    (data / "meta.json").write_text(text)
    with pytest.raises(DataError, match=match):
        open_dataset(data)
