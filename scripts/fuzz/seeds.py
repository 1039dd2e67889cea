#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets other than sse/decoders (whose
SSE seeds scripts/fuzz.sh extracts itself) from tests/wire/*.http,
configs/*.json and configs/scenarios/*.json.

    seeds.py ROOT CORPUS_DIR TARGET

Each seed starts with the selector bytes its target reads (see the target's
comment in tests/fuzz/)."""
import json
import os
import re
import sys

root, out, target = sys.argv[1], sys.argv[2], sys.argv[3]
wire = os.path.join(root, "tests", "wire")
# fuzz_responses.cpp's kinds and statuses.
KINDS = {"openai": 0, "anthropic": 1, "gemini": 2, "azure": 3}
STATUSES = [200, 201, 400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503,
            504, 529, 418]
n = 0


def write(prefix, body):
    global n
    n += 1
    with open(os.path.join(out, "seed-%s-%d" % (target, n)), "wb") as f:
        f.write(bytes(prefix) + body.encode("utf-8"))


def strip_jsonc(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"^\s*//.*$", "", l) for l in text.splitlines())


def messages(path):
    """(request body, [(status, header lines, body)]) of a wire sample."""
    text = "\n".join(l for l in open(path, encoding="utf-8").read().split("\n")
                     if not l.startswith("# "))
    head, _, rest = text.partition("\n---\n") if "\n---\n" in text else ("", "", text)
    req_body = head.partition("\n\n")[2].strip() if head else ""
    responses = []
    for block in re.split(r"\n(?=HTTP/1\.1 )", "\n" + rest):
        block = block.strip("\n")
        if not block.startswith("HTTP/"):
            continue
        hdr, _, body = block.partition("\n\n")
        lines = hdr.split("\n")
        status = int(lines[0].split()[1])
        responses.append((status, lines[1:], body))
    return req_body, responses


for name in sorted(os.listdir(wire)):
    if not name.endswith(".http"):
        continue
    kind = next((v for k, v in KINDS.items() if name.startswith(k)), 0)
    if "completions" in name:
        kind = 5
    req, responses = messages(os.path.join(wire, name))
    if target == "gateway" and req:
        dialect = 2 if name.startswith("anthropic") else (
            1 if "completions" in name else 0)
        write([dialect], req)
    for status, headers, body in responses:
        sse = any("event-stream" in h.lower() for h in headers)
        if target == "responses" and not sse:
            idx = STATUSES.index(status) if status in STATUSES else 0
            write([kind, idx], body)
        if target == "headers":
            write([], "\n".join(headers))

if target == "headers":
    write([], "retry-after: Wed, 21 Oct 2026 07:28:00 GMT\nx-should-retry: true")
    write([], "retry-after: 1.5\nretry-after-ms: 250\nx-ms-retry-after-ms: 9")
    write([], "anthropic-ratelimit-requests-remaining: 4\n"
              "anthropic-ratelimit-requests-reset: 2026-10-21T07:28:00Z")
scenarios = os.path.join(root, "configs", "scenarios")
if target == "config":
    for d in (os.path.join(root, "configs"), scenarios):
        for name in sorted(os.listdir(d)):
            if not name.endswith(".json"):
                continue
            text = open(os.path.join(d, name), encoding="utf-8").read()
            if d == scenarios:
                text = json.dumps(json.loads(strip_jsonc(text))["engine"])
            write([], text)
if target == "mock":
    for name in sorted(os.listdir(scenarios)):
        if name.endswith(".json"):
            doc = json.loads(strip_jsonc(open(os.path.join(scenarios, name),
                                              encoding="utf-8").read()))
            for mock in doc.get("mocks", {}).values():
                write([1], json.dumps(mock))
    for faults in ["rate_limit=0.5;latency=5", "status=503; should_retry=true",
                   "drop_after=3;first_byte=10", "overlap=4;retry_after_ms=20",
                   "error_event_after=2", "stall_after=1;hang;close"]:
        write([0], faults)
print(n)
