"""gbi: Generator-Based Inference for collider physics.

The package is organised in small modules with one job each:

- :mod:`gbi.features`   LHCO dijet features from NanoAOD ``FatJet`` columns
- :mod:`gbi.regions`    signal region / sideband definition in mjj (versioned JSON schema)
- :mod:`gbi.fileset`    coffea fileset parsing and validation of input ROOT files
- :mod:`gbi.processors` coffea processors (``DijetFeatureProcessor``)
- :mod:`gbi.execution`  running processors with the iterative, futures or dask executors
- :mod:`gbi.io`         atomic writing of Parquet, pickle, ROOT and JSON outputs
- :mod:`gbi.sample`     the small default sample shipped with the package

Heavy optional parts (event generation with Pythia 8, dask) live in their own submodules
and raise an ImportError naming the extra to install.
"""

from __future__ import annotations

from gbi.errors import GbiError, GbiInputError

__version__ = "0.1.0"

__all__ = ["GbiError", "GbiInputError", "__version__"]
