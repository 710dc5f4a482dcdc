"""Query values for every operation, read from the generated NDJSON (never typed by hand)."""

from __future__ import annotations

import collections
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.common import ODS_ORG
from harness.data import Dataset


def spread(items: list[Any], count: int) -> list[Any]:
    """`count` items evenly spread over the list (deterministic)."""
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


@dataclass
class Queries:
    """Query values for every operation, read from the generated NDJSON."""

    reads: list[str]  # "Type/id", spread over every type of the main dataset
    org_codes: list[str]  # ODS codes of exactly one Organization, the same one at every size
    org_codes_with_roles: list[str]
    org_codes_with_endpoints: list[str]
    name_prefixes: list[str]  # 3-letter family-name prefixes with ≥ 20 hits at the smallest
    create_body: bytes
    transaction_body: bytes


def org_facts(dataset: Dataset) -> tuple[dict[str, str], collections.Counter[str], set[str]]:
    """ODS code -> org id (unique codes only), roles per org id, org ids with endpoints."""
    codes: dict[str, list[str]] = collections.defaultdict(list)
    with_endpoints = set()
    for org in dataset.resources("Organization"):
        for ident in org.get("identifier", []):
            if ident.get("system") == ODS_ORG and "value" in ident:
                codes[ident["value"]].append(org["id"])
        if org.get("endpoint"):
            with_endpoints.add(org["id"])
    roles: collections.Counter[str] = collections.Counter()
    for role in dataset.resources("PractitionerRole"):
        ref = role.get("organization", {}).get("reference", "")
        if ref.startswith("Organization/"):
            roles[ref.split("/", 1)[1]] += 1
    unique = {code: ids[0] for code, ids in codes.items() if len(ids) == 1}
    return unique, roles, with_endpoints


def pick_queries(small: Dataset, others: list[Dataset], main: Dataset, quick: bool) -> Queries:
    """Values from the smallest dataset that mean the same thing in every larger one."""
    per_op = 100 if quick else 500
    codes, roles, endpoints = org_facts(small)
    for other in others:  # keep values that are valid (and unique) at every size
        o_codes, o_roles, o_endpoints = org_facts(other)
        codes = {c: i for c, i in codes.items() if o_codes.get(c) == i}
        roles = collections.Counter({i: n for i, n in roles.items() if o_roles.get(i)})
        endpoints &= o_endpoints
    ordered = sorted(codes)
    families: collections.Counter[str] = collections.Counter()
    for practitioner in small.resources("Practitioner"):
        for name in practitioner.get("name", []):
            if len(name.get("family", "")) >= 3:
                families[name["family"][:3]] += 1

    reads = []
    for resource_type in sorted(main.counts):
        ids = [r["id"] for r in main.resources(resource_type)]
        share = max(1, round((200 if quick else 1000) * len(ids) / main.total))
        reads += [f"{resource_type}/{i}" for i in spread(ids, share)]

    practitioner = next(main.resources("Practitioner"))
    practitioner.pop("id", None)
    practitioner.pop("meta", None)
    entries = [
        {"fullUrl": f"urn:uuid:{uuid.UUID(int=n + 1)}", "resource": practitioner,
         "request": {"method": "POST", "url": "Practitioner"}}
        for n in range(100)
    ]  # fmt: skip
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return Queries(
        reads=reads,
        org_codes=spread(ordered, per_op),
        org_codes_with_roles=spread([c for c in ordered if roles.get(codes[c])], per_op),
        org_codes_with_endpoints=spread([c for c in ordered if codes[c] in endpoints], per_op),
        name_prefixes=sorted(p for p, n in families.items() if n >= 20),
        create_body=json.dumps(practitioner).encode(),
        transaction_body=json.dumps(transaction).encode(),
    )


def update_pool(dataset: Dataset) -> Iterator[str]:
    """Lines for update.lua: a flipped `active` on resources never updated before."""
    for resource_type in ("Practitioner", "PractitionerRole", "Organization", "HealthcareService"):
        for resource in dataset.resources(resource_type):
            resource["active"] = not resource.get("active", True)
            body = json.dumps(resource, separators=(",", ":"))
            yield f'/fhir/{resource_type}/{resource["id"]}\tW/"1"\t{body}'
