"""Datasets, frames, masks and prediction files (numpy + Pillow only; no torch; cv2 imported lazily).

Entry points: :func:`open_dataset` -> :class:`Dataset` of :class:`Video`;
:class:`harness.data.writer.PredictionWriter`; :func:`harness.data.synth.generate`.
"""

from harness.data.dataset import Dataset, open_dataset
from harness.data.video import Video

__all__ = ["Dataset", "Video", "open_dataset"]
