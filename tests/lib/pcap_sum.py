#!/usr/bin/env python3
"""pcap_sum.py - TCP payload bytes per direction, from a packet capture.

Reads a classic pcap file (tcpdump -w; Ethernet or Linux cooked link type,
IPv4 and IPv6, no VLAN) and sums the TCP payload of the connections to
--port: bytes from the clients to the server ("bytes_in") and back
("bytes_out"), each sequence number counted once (a retransmission is not
counted again; segments seen out of order are not expected on the test's
veths and are reported).  The capture is an independent ground truth: what
the interface carried, whatever any monitor made of it.

Also, with --after-text TEXT --starts PREFIX[,PREFIX...]: how many segments
from the server, after the first one holding TEXT (e.g. "101 Switching"),
begin with one of the PREFIXes (e.g. "HTTP/1.1 ,GET "): how often a segment
started with bytes that look like an HTTP start line.

Output (JSON): {"port", "connections", "segments", "bytes_in", "bytes_out",
"retransmitted_bytes", "out_of_order", "truncated", "server_starts_after",
"server_starts_by_prefix"}.
Exit 1 when a packet was captured short (snaplen) or out of order, since
the sums would then be wrong; 2 when the file cannot be read.
"""

import argparse
import json
import struct
import sys

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise ValueError("not a pcap file (too short)")
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise ValueError("not a classic pcap file (pcapng? use tcpdump -w)")
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        if linktype not in (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL):
            raise ValueError(f"link type {linktype} not handled")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, caplen, wirelen = struct.unpack(endian + "IIII", rec)
            data = f.read(caplen)
            yield linktype, data, caplen < wirelen


def l3(linktype, frame):
    """(ethertype, network-layer bytes)."""
    if linktype == LINKTYPE_ETHERNET:
        return struct.unpack("!H", frame[12:14])[0], frame[14:]
    return struct.unpack("!H", frame[14:16])[0], frame[16:]


def tcp_segment(ethertype, pkt):
    """(src, dst, sport, dport, seq, flags, payload) or None."""
    if ethertype == 0x0800:
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        if pkt[9] != 6:
            return None
        src, dst = pkt[12:16], pkt[16:20]
        tcp = pkt[ihl:total]
    elif ethertype == 0x86DD:
        if pkt[6] != 6:  # no extension headers on the tests' traffic
            return None
        plen = struct.unpack("!H", pkt[4:6])[0]
        src, dst = pkt[8:24], pkt[24:40]
        tcp = pkt[40:40 + plen]
    else:
        return None
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return src, dst, sport, dport, seq, flags, tcp[doff:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, required=True, help="the server's port")
    ap.add_argument("--after-text", help="count server segments after the first holding this")
    ap.add_argument("--starts", default="", help="comma-separated prefixes of start lines")
    args = ap.parse_args()
    after = args.after_text.encode() if args.after_text else None
    starts = tuple(s.encode() for s in args.starts.split(",") if s)

    out = {"port": args.port, "connections": 0, "segments": 0, "bytes_in": 0, "bytes_out": 0,
           "retransmitted_bytes": 0, "out_of_order": 0, "truncated": 0,
           "server_starts_after": 0, "server_starts_by_prefix": {}}
    nxt = {}          # direction -> next sequence number expected
    seen_after = set()  # connections whose server sent after_text already
    try:
        for linktype, frame, short in packets(args.pcap):
            seg = tcp_segment(*l3(linktype, frame))
            if seg is None:
                continue
            src, dst, sport, dport, seq, flags, payload = seg
            if args.port not in (sport, dport):
                continue
            if short:
                out["truncated"] += 1
            d = (src, sport, dst, dport)
            conn = (src, sport, dst, dport) if dport == args.port else (dst, dport, src, sport)
            if flags & 0x02:  # SYN: the next byte is seq + 1
                nxt[d] = (seq + 1) & 0xFFFFFFFF
                if dport == args.port:
                    out["connections"] += 1
                continue
            if not payload:
                continue
            out["segments"] += 1
            want = nxt.get(d, seq)
            ahead = (seq - want) & 0xFFFFFFFF
            if ahead and ahead < 1 << 31:
                out["out_of_order"] += 1  # bytes missing before this one
                want = seq
            end = (seq + len(payload)) & 0xFFFFFFFF
            new = (end - want) & 0xFFFFFFFF
            if new >= 1 << 31:
                new = 0  # wholly before what was seen: a retransmission
            new = min(new, len(payload))
            out["retransmitted_bytes"] += len(payload) - new
            if new:
                nxt[d] = end
            out["bytes_in" if dport == args.port else "bytes_out"] += new
            if sport == args.port and after is not None:
                if conn in seen_after and new == len(payload) and payload.startswith(starts):
                    out["server_starts_after"] += 1
                    for p in starts:
                        if payload.startswith(p):
                            by = out["server_starts_by_prefix"]
                            by[p.decode()] = by.get(p.decode(), 0) + 1
                if after in payload:
                    seen_after.add(conn)
    except (OSError, ValueError, struct.error, IndexError) as e:
        print(f"pcap_sum.py: {args.pcap}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out, sort_keys=True))
    return 1 if out["truncated"] or out["out_of_order"] else 0


if __name__ == "__main__":
    sys.exit(main())
