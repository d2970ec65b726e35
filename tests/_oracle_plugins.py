"""A method plugin whose answer is known: it returns the ground truth (read from the dataset's
Annotations folder given as an option), so every score of a cell it runs in is known a priori.

``reverse_ids=true`` hands the objects out under reversed ids (K+1-id): a scorer that matches
proposals to objects (unsupervised) still finds every object; one that compares ids does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.api import Capabilities, FrameSource, Method, PromptKind, Session
from harness.errors import ConfigError


@dataclass(frozen=True)
class OracleConfig:
    root: str = ""  # the dataset folder (with Annotations/<video>/<frame>.png for every frame)
    reverse_ids: bool = False

    def __post_init__(self) -> None:
        if not (Path(self.root) / "Annotations").is_dir():
            raise ConfigError(f"method.root={self.root!r} has no Annotations folder")


class _OracleSession(Session):
    def __init__(self, video: FrameSource, cfg: OracleConfig) -> None:
        self.video, self.cfg = video, cfg
        self.prompted: set[int] = set()

    def add_prompt(self, prompt):
        self.prompted.add(prompt.obj_id)
        return None

    def propagate(self):
        import numpy as np
        from PIL import Image

        from harness.api import FrameResult

        folder = Path(self.cfg.root) / "Annotations" / self.video.name
        labels = [np.asarray(Image.open(folder / f"{name}.png")) for name in self.video.frame_names]
        ids = sorted(set(np.unique(np.stack(labels)).tolist()) - {0})
        out_id = {g: (len(ids) + 1 - k if self.cfg.reverse_ids else g) for k, g in enumerate(ids, 1)}
        wanted = self.prompted or set(ids)  # prompted: those objects; unprompted: every object
        seen: set[int] = set()
        for t, lab in enumerate(labels):
            seen |= set(np.unique(lab).tolist()) & wanted  # an object is absent before it appears
            yield FrameResult(frame=t, masks={out_id[g]: lab == g for g in sorted(seen)})


class GroundTruthOracle(Method):
    """Perfect masks for every prompt kind and for the unprompted (unsupervised) setting."""

    name = "gt-oracle"
    Config = OracleConfig
    capabilities = Capabilities(prompts=frozenset(PromptKind), reprompt=True, unprompted=True)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _OracleSession(video, self.cfg)


MOSEBENCH_ADAPTERS = {"gt-oracle": GroundTruthOracle}
