"""Writing the directory as NDJSON, one file per resource type (the bulk-data layout).

Streams: resources are serialised as they are generated and written through one buffered
handle per type, so memory does not grow with the directory. orjson output is canonical for
a given dict (insertion order, no whitespace), so the same arguments give byte-identical
files.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import orjson

from .directory import DEFAULT_BASE_URL, iter_directory

BUFFER_BYTES = 1 << 18  # 256 KiB per type: few syscalls, ~2 MB for all types


def write_ndjson(
    out_dir: Path, organizations: int, seed: int, public_base_url: str = DEFAULT_BASE_URL
) -> dict[str, int]:
    """Write ``out_dir/<Type>.ndjson`` for each resource type and return counts per type.

    Existing files for the generated types are overwritten; a type with no resources gets
    no file. Lines end with ``\\n``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with ExitStack() as stack:
        handles: dict[str, BinaryIO] = {}
        for resource in iter_directory(organizations, seed, public_base_url):
            resource_type = resource["resourceType"]
            handle = handles.get(resource_type)
            if handle is None:
                path = out_dir / f"{resource_type}.ndjson"
                handle = stack.enter_context(path.open("wb", buffering=BUFFER_BYTES))
                handles[resource_type] = handle
                counts[resource_type] = 0
            handle.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))
            counts[resource_type] += 1
    return dict(sorted(counts.items()))
