"""Kedro wiring: one package per stage, found by `find_pipelines`."""
