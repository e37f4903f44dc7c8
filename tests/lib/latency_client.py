#!/usr/bin/env python3
"""latency_client.py - client.py with per-request latency samples.

Runs tests/lib/client.py's Client unchanged and writes its summary (the same
JSON, so compare.py reads it) with one more key:

  "samples": [[port, status, first_ns, last_ns, path], ...]

one per answered request: first_ns is client.py's first-byte latency (just
before the send() holding the request's first byte to just after the recv()
returning its response's first byte), last_ns the same start to just after
the recv() that completed the response (time.monotonic_ns), path the
request target.

  latency_client.py --target A:P[,A:P...] --requests N [--connections C]
                    [--paths P1,P2,...] [--max-seconds S] --out FILE

Exit status as client.py's.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402  (the ground-truth client, used as a library)

T_LAST = {}  # Request -> monotonic ns when its response was complete


class StampingParser(client.ResponseParser):
    """Notes when each request's response was read to its end."""

    def feed(self, data, now, queue, eof=False):
        finished = super().feed(data, now, queue, eof)
        for req in finished:
            T_LAST[req] = now
        return finished


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--paths", default="/")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    args = argparse.Namespace(
        requests=a.requests, connections=a.connections, pipeline=1, method="GET",
        body_bytes=0, close=False, max_seconds=a.max_seconds, duration=None, timeout=10.0,
        source=None,
        paths=[p for p in a.paths.split(",") if p])
    try:
        targets = [client.parse_target(t) for t in a.target.split(",") if t]
    except ValueError as e:
        ap.error(str(e))
    if a.connections < len(targets):
        ap.error("need at least one connection per target")

    client.ResponseParser = StampingParser
    c = client.Client(args, targets)
    c.run()
    doc = c.summary()
    doc["samples"] = [[r.port, r.status, r.t_first - r.t_send, T_LAST[r] - r.t_send,
                       r.raw.split(b" ", 2)[1].decode("latin-1")]
                      for r in c.records if r.done and r in T_LAST]
    with open(a.out, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    for e in c.errors:
        print(f"latency_client.py: {e}", file=sys.stderr)
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
