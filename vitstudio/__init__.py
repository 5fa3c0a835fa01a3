"""vitstudio: a desktop experiment studio for Vision Transformers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vitstudio")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
