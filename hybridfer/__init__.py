"""hybridfer: facial expression recognition that joins deep features and classical ML."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hybridfer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
