"""Reading resources from NDJSON files and Bundles, one item per resource with its origin.

Every item says where it came from (`file:line`, or `file#entry[n]` in a Bundle) so a
problem can be reported precisely. Parsing problems become items too: the loader reports
them and carries on. NDJSON lines can also be handed over unparsed (`parse=False`, the
item's `raw`): the loader then parses them with `parse_line`, possibly in a worker process.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson

from fhir_sandbox.errors import FhirError, Invalid

_BUNDLE_TYPES = ("collection", "batch", "transaction", "searchset", "transaction-response")
_NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl")
#: What a directory given to `load` contributes: what `generate`, `export` and `$export` write,
#: and Bundles.
LOADABLE_SUFFIXES = (*_NDJSON_SUFFIXES, ".json")


@dataclass
class Item:
    """One resource to load: parsed (`resource`), unparsed (`raw`, an NDJSON line for
    `parse_line`) or already known to be bad (`error`)."""

    origin: str
    resource: dict[str, Any] | None = None
    error: FhirError | None = None
    raw: bytes | None = None


def source_files(paths: list[Path]) -> list[Path]:
    """Files as given, and for a directory its loadable files (not its subdirectories) in
    name order, so a directory loads the same way every time."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(
            p for p in path.iterdir() if p.is_file() and p.name.endswith(LOADABLE_SUFFIXES)
        )
        if not inside:
            raise Invalid(
                f"{path} holds no file to load (names ending in {', '.join(LOADABLE_SUFFIXES)})"
            )
        found.extend(inside)
    return found


def read_items(path: Path, *, parse: bool = True) -> Iterator[Item]:
    """The items of an NDJSON file or a Bundle; with `parse=False` NDJSON lines come raw."""
    if path.name.endswith(_NDJSON_SUFFIXES):
        yield from _ndjson(path, parse)
    else:
        yield from _bundle(path)


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _ndjson(path: Path, parse: bool) -> Iterator[Item]:
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            origin = f"{path}:{number}"
            if not parse:
                yield Item(origin, raw=line)
                continue
            try:
                yield Item(origin, parse_line(line))
            except FhirError as exc:
                yield Item(origin, error=exc)


def parse_line(line: bytes) -> dict[str, Any]:
    """One NDJSON line as a resource (a JSON object with a resourceType), or FhirError."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"not valid JSON: {exc}", code="structure") from None
    return _as_resource(data)


def _as_resource(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise Invalid("not a FHIR resource (a JSON object with resourceType)", code="structure")
    return data


def _bundle(path: Path) -> Iterator[Item]:
    try:
        with _open(path) as handle:
            bundle = _as_resource(orjson.loads(handle.read()))
    except orjson.JSONDecodeError as exc:
        yield Item(str(path), error=Invalid(f"not valid JSON: {exc}", code="structure"))
        return
    except FhirError as exc:
        yield Item(str(path), error=exc)
        return
    if bundle["resourceType"] != "Bundle":
        yield Item(str(path), bundle)
        return
    if bundle.get("type") not in _BUNDLE_TYPES:
        message = f"Bundle type {bundle.get('type')!r} cannot be loaded; use one of {_BUNDLE_TYPES}"
        yield Item(str(path), error=Invalid(message))
        return
    entries = bundle.get("entry") or []
    aliases = _urn_aliases(entries)
    for index, entry in enumerate(entries):
        origin = f"{path}#entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            yield Item(origin, error=Invalid("entry has no resource", code="required"))
            continue
        if entry.get("fullUrl") in aliases and "id" not in resource:
            resource = {**resource, "id": aliases[entry["fullUrl"]].split("/")[1]}
        yield Item(origin, _rewrite(resource, aliases) if aliases else resource)


def _urn_aliases(entries: list[Any]) -> dict[str, str]:
    """`urn:uuid:X` fullUrls of id-less entries become `Type/X` (a deterministic id)."""
    aliases = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        full_url, resource = entry.get("fullUrl"), entry["resource"]
        if isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
            rid = resource.get("id") or str(uuid.UUID(full_url[9:]))
            aliases[full_url] = f"{resource.get('resourceType')}/{rid}"
    return aliases


def _rewrite(node: Any, aliases: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v, aliases) for k, v in node.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in aliases:
            out["reference"] = aliases[out["reference"]]
        return out
    if isinstance(node, list):
        return [_rewrite(v, aliases) for v in node]
    return node
