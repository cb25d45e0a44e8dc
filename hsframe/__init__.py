"""hsframe: a plugin-based research framework for hyperspectral and volumetric deep learning.

Importing this package must stay cheap (no torch, no mlflow): plugins import it to register.
"""
from hsframe.hookspecs import hookimpl
from hsframe.registry import DatasetSpec, InputSpec, ModelSpec

__version__ = "0.1.0"
PLUGIN_API_VERSION = 1

__all__ = ["hookimpl", "DatasetSpec", "InputSpec", "ModelSpec", "__version__", "PLUGIN_API_VERSION"]
