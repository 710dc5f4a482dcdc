"""The baseline: a bare ASGI app on the same server stack, answering a fixed 2 KB JSON body.

Every throughput of the suite is also reported as a ratio to this app measured in the same
run, the same way (same pinning, same wrk script, same connections), so a noisy or slower
machine moves both numbers together.

    python benchmarks/baseline_app.py --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import argparse
import json
from typing import Any

BODY_BYTES = 2048


def _body() -> bytes:
    """A FHIR-looking JSON document of exactly BODY_BYTES bytes."""
    doc: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": "baseline",
        "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"},
        "active": True,
        "name": [{"use": "official", "family": "Baseline", "given": ["Bare"]}],
        "text": {"status": "generated", "div": ""},
    }
    empty = len(json.dumps(doc, separators=(",", ":")).encode())
    doc["text"]["div"] = "x" * (BODY_BYTES - empty)
    body = json.dumps(doc, separators=(",", ":")).encode()
    assert len(body) == BODY_BYTES, len(body)
    return body


BODY = _body()
HEADERS = [
    (b"content-type", b"application/fhir+json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] in ("POST", "PUT"):  # drain the request body like a real handler
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
