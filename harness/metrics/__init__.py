"""Scoring: MOSE-api and DAVIS protocols, tracking metrics, attributes, confidence intervals.

Entry points: :func:`harness.metrics.score.score` (folders in, official-compatible files out),
:func:`harness.metrics.frame.score_frame` (arrays in), :mod:`harness.metrics.vot`,
:mod:`harness.metrics.attributes`, :mod:`harness.metrics.bootstrap`. Conventions: docs/metrics.md.
Importing this package imports nothing heavy.
"""
