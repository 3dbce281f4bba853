"""Datasets: FOMM-layout video folders and the procedural talking faces."""

from .fomm import DatasetError, FOMMDataset, RankSampler

__all__ = ["DatasetError", "FOMMDataset", "RankSampler"]
