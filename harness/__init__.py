"""mosebench: a benchmark harness for video object segmentation and tracking on MOSEv2.

Importing this package is cheap: torch, sam2, cv2 and mlflow are imported only inside the
functions that need them.
"""

__version__ = "0.1.0"
