"""Datasets: FOMM-layout video folders and the procedural talking faces."""
