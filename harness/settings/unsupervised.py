"""Unsupervised VOS (TABLE 7): no prompts; the method proposes at most 20 object tracks.

The method's session is opened with ``max_objects=20`` and propagated without any prompt; the
frames it yields carry proposal ids (any ids in 1..255, at most 20 distinct per video). The setting
emits them unchanged; matching proposals to ground-truth objects happens at scoring time
(:func:`harness.metrics.unsupervised.score_unsupervised`), as in the DAVIS 2017 unsupervised track.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, ClassVar

from harness.contract import MethodOutputError
from harness.metrics.unsupervised import MAX_PROPOSALS, ProposalsVideo
from harness.settings import multisession
from harness.settings.base import Emit, Requirements, Setting, SettingOutcome
from harness.settings.semi import VOS_METRICS

if TYPE_CHECKING:
    from harness.api import Method
    from harness.data.video import Video

class UnsupervisedSetting(Setting):
    name = "unsupervised"
    requirements = Requirements(unprompted=True)
    metrics: ClassVar[tuple[str, ...]] = VOS_METRICS
    scoring: ClassVar[str] = "unsupervised"

    def run(self, method: Method, video: Video, emit: Emit) -> SettingOutcome:
        name = multisession.method_name(method)
        seen: set[int] = set()
        with ExitStack() as stack:
            sessions = multisession.open_sessions(stack, method, video, 1, max_objects=MAX_PROPOSALS)
            for fr in multisession.lockstep(sessions, video, name):
                ids = {int(k) for k, m in fr.masks.items() if m is not None and m.any()}
                ids |= {int(k) for k, b in fr.boxes.items() if b is not None}
                seen |= ids
                if len(seen) > MAX_PROPOSALS:
                    raise MethodOutputError(
                        f"method '{name}' proposed {len(seen)} objects on video '{video.name}' "
                        f"(ids {sorted(seen)}); the unsupervised protocol allows {MAX_PROPOSALS}: "
                        "the adapter must honour open_session(max_objects=...)")
                if any(not 1 <= k <= 255 for k in ids):
                    raise MethodOutputError(
                        f"method '{name}' used proposal ids {sorted(ids)} on video '{video.name}'; "
                        "ids must be in 1..255 to fit the label PNGs")
                emit(fr)
        return SettingOutcome(details=ProposalsVideo(tuple(sorted(seen))))
