"""Exceptions raised by gbi.

Every error says what was expected, what was found and what to do, and names the file,
branch, field or parameter it is about (the uproot style).
"""

from __future__ import annotations

__all__ = ["GbiError", "GbiInputError", "MissingExtraError", "require_extra"]


class GbiError(Exception):
    """Base class of all gbi errors."""


class GbiInputError(GbiError, ValueError):
    """Bad user input: a file, branch, fileset field, configuration value or parameter."""


class MissingExtraError(GbiError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require_extra(module: str, extra: str, purpose: str) -> None:
    """Import ``module`` or raise :class:`MissingExtraError` naming the pip extra.

    >>> require_extra("json", "none", "testing")
    >>> require_extra("surely_not_installed_mod", "dask", "the dask executor")
    Traceback (most recent call last):
    ...
    gbi.errors.MissingExtraError: the dask executor needs the Python package 'surely_not_installed_mod', which is not installed; install it with: pip install 'gbi[dask]'
    """
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{purpose} needs the Python package {module!r}, which is not installed; "
            f"install it with: pip install 'gbi[{extra}]'"
        ) from err
