"""Datasets, frames, masks and prediction files (numpy + Pillow only; no torch)."""
