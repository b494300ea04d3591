"""potluck: a polyglot feature platform on Feast.

Declare features once over the systems you already run and get point-in-time
correct training sets joined across all of them in one call.

Importing this package is cheap on purpose: Feast, MLflow and the drivers are
imported lazily by the modules that need them, so `potluck --help` stays fast.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
