"""Orchestration only: one run (:func:`run_one`), repeated seeds (:func:`run_seeds`), and the Python API.

The path every run takes: cli -> engine -> task -> (split, features, samples) -> training ->
evaluation -> recorder. Tasks live in :mod:`hsframe.tasks`, recorders in :mod:`hsframe.recording`.
"""
from hsframe.engine.api import load_config, run
from hsframe.engine.reporter import Reporter
from hsframe.engine.run import run_one
from hsframe.engine.seeds import run_seeds
from hsframe.engine.summary import RunSummary, SeedsSummary

__all__ = ["load_config", "run", "run_one", "run_seeds", "Reporter", "RunSummary", "SeedsSummary"]
