"""The package's version, in a module of its own: every layer may read it, and the package's
``__init__`` (which offers the Python API lazily) is imported by none of them."""

__version__ = "0.1.0"
