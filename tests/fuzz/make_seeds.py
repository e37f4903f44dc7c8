#!/usr/bin/env python3
"""make_seeds.py - writes the fuzzer's seed conversations into tests/fuzz/corpus/.

Each seed is an input in fuzz_datapath.c's format: a family byte, then
records of [flags][len:2 LE][payload]."""
import os
import struct
import sys

CLIENT, SERVER, FIN, RST, RETRANS, GAP = 0, 1, 2, 4, 16, 32


def rec(flags, payload):
    return bytes([flags]) + struct.pack("<H", len(payload)) + payload


REQ = b"GET /api/users/42?s=yo HTTP/1.1\r\nHost: h\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
SEEDS = {
    "simple": [rec(CLIENT, REQ), rec(SERVER, RESP), rec(SERVER | FIN, b"")],
    "pipelined": [rec(CLIENT, REQ * 3), rec(SERVER, RESP * 2), rec(SERVER, RESP)],
    "chunked": [rec(CLIENT, b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
                rec(SERVER, b"HTTP/1.1 500 X\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nerr\r\n0\r\nT: 1\r\n\r\n")],
    "split": [rec(CLIENT, b"GE"), rec(CLIENT, b"T /a/b/0b1e2f7c-5c1a-4a8e-9d3b-7f6a5e4d3c2b HT"),
              rec(CLIENT, b"TP/1.1\r\n\r\n"), rec(SERVER, b"HTTP/1.1 2"), rec(SERVER, b"04 No\r\n\r\n")],
    "retrans": [rec(CLIENT, REQ), rec(CLIENT | RETRANS, REQ), rec(SERVER | GAP, RESP), rec(CLIENT | RST, b"")],
    "interim_head": [rec(CLIENT, b"HEAD / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"),
                     rec(SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + RESP)],
    "connect_upgrade": [rec(CLIENT, b"CONNECT h:443 HTTP/1.1\r\n\r\n"), rec(SERVER, b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01")],
    "v6_vlan": [rec(CLIENT | 0x80, REQ), rec(SERVER | 0x40, RESP)],
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, records in SEEDS.items():
        family = b"\x01" if name.startswith("v6") else b"\x00"
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(family + b"".join(records))


if __name__ == "__main__":
    main()
