"""hybridfer: facial expression recognition that joins deep features and classical ML."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("hybridfer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__", "predict_faces"]


def __getattr__(name: str) -> Any:
    # entry points imported on first use, so that ``import hybridfer`` stays light
    if name == "predict_faces":
        from hybridfer.predict.faces import predict_faces

        return predict_faces
    raise AttributeError(f"module 'hybridfer' has no attribute {name!r}")
