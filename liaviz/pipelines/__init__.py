"""Whole jobs, built on the model, its files and the run-time pieces: ``animate`` (a portrait
driven by a video, eq. 11 and 12) and ``evaluate`` (reconstruction scores over a dataset, with
LPIPS from ``lpips`` when its weights are given). The demo page is ``liaviz.demo``."""
