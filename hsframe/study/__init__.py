"""Studies: sweeps over a search space on Optuna, each trial an ordinary recorded run."""
from hsframe.study.space import KINDS, Dimension, SearchSpace, load_space, parse_space

__all__ = ["KINDS", "Dimension", "SearchSpace", "load_space", "parse_space"]
