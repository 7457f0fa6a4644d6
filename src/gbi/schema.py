"""Versioned JSON schemas shipped with gbi (``gbi/schemas/<name>-<version>.json``).

Configurations and result files carry ``"version"`` and are validated against the schema of
that version before use, so that a typo in a field name is reported with its path instead
of being silently ignored.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema

from gbi.errors import GbiInputError

__all__ = ["load_schema", "validate"]


@functools.cache
def load_schema(name: str, version: str) -> dict[str, Any]:
    """Return the JSON schema ``gbi/schemas/<name>-<version>.json`` as a dict.

    >>> load_schema("regions", "1.0")["title"]
    'gbi signal-region and sideband definition'
    """
    resource = resources.files("gbi") / "schemas" / f"{name}-{version}.json"
    if not resource.is_file():
        raise GbiInputError(
            f"unknown {name} schema version {version!r}; this gbi knows "
            f"{sorted(_known_versions(name))}: upgrade gbi or fix the 'version' field"
        )
    return json.loads(resource.read_text())


def _known_versions(name: str) -> list[str]:
    folder = resources.files("gbi") / "schemas"
    prefix = f"{name}-"
    return [
        entry.name[len(prefix) : -len(".json")]
        for entry in folder.iterdir()
        if entry.name.startswith(prefix) and entry.name.endswith(".json")
    ]


def validate(document: Any, name: str, source: str) -> None:
    """Validate ``document`` against the schema version it declares.

    ``source`` (a file name or a description) is quoted in the error message.

    >>> validate({"version": "1.0", "signal_region": [3300, 3700]}, "regions", "inline")
    >>> validate({"version": "1.0", "signal_regoin": [3300, 3700]}, "regions", "my.json")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: my.json does not follow the gbi regions schema 1.0: at (top level): 'signal_region' is a required property; at (top level): Additional properties are not allowed ('signal_regoin' was unexpected)
    """
    if not isinstance(document, dict):
        raise GbiInputError(
            f"{source}: expected a JSON object for a gbi {name} document, "
            f"found {type(document).__name__}"
        )
    version = document.get("version")
    if version is None:
        raise GbiInputError(f"{source}: the field 'version' is missing (expected e.g. \"1.0\")")
    schema = load_schema(name, str(version))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(
            f"at {'/'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}"
            for error in errors[:3]
        )
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise GbiInputError(
            f"{source} does not follow the gbi {name} schema {version}: {problems}{more}"
        )
