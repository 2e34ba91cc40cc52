"""A DNS tunnel in the manner of iodine, for the lab only.

dns_tunnel.py server DOMAIN ADDR [ADDR ...]
dns_tunnel.py client SERVER SOURCE DOMAIN QTYPE RATE SECONDS [EDNS_SIZE [DATA_BYTES]]

The client sends RATE queries a second for SECONDS (at most RATE*SECONDS
queries) straight to SERVER, each name carrying upstream data: a sequence
label, then DATA_BYTES (default 120) random bytes in lowercase base32 split
into labels of up to 63 characters, then DOMAIN (about 220 characters in
all by default; with 5 bytes, a poll of about 30 characters, as iodine
sends when it has nothing to say and waits for downstream data). QTYPE is
TXT or NULL; with EDNS_SIZE (not 0) the query has an EDNS0 OPT record
offering that UDP size. It waits up to a second for each answer.

The server answers every query for a name under DOMAIN with downstream data:
TXT records of base32 text or a NULL record of raw bytes, filling the
answer up to the client's EDNS size (at most 1232) or to 512 bytes without
EDNS; anything else gets REFUSED. It listens on UDP port 53 of each ADDR.
"""
import base64
import os
import selectors
import socket
import struct
import sys
import time

TYPES = {"TXT": 16, "NULL": 10}


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def parse_query(q):
    """Returns (id, name, qtype, end of question, edns size or 0)."""
    if len(q) < 17:
        return None
    qid, _, qd, _, _, ar = struct.unpack("!HHHHHH", q[:12])
    if qd != 1:
        return None
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        n = q[i]
        if n > 63 or i + 1 + n > len(q):
            return None
        labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    i += 1
    if i + 4 > len(q):
        return None
    qtype = struct.unpack("!H", q[i:i + 2])[0]
    end = i + 4
    edns = 0
    if ar and end + 11 <= len(q) and q[end] == 0 and struct.unpack("!H", q[end + 1:end + 3])[0] == 41:
        edns = struct.unpack("!H", q[end + 3:end + 5])[0]
    return qid, ".".join(labels).lower(), qtype, end, edns


def answer(q, domain):
    p = parse_query(q)
    if p is None:
        return None
    qid, name, qtype, end, edns = p
    question = q[12:end]
    if not name.endswith(domain) or qtype not in TYPES.values():
        return struct.pack("!HHHHHH", qid, 0x8005, 1, 0, 0, 0) + question
    limit = min(edns, 1232) if edns else 512
    room = limit - 12 - len(question) - 12 - (11 if edns else 0) - 8
    if qtype == 16:
        text = base64.b32encode(os.urandom(room)).decode().lower().rstrip("=")
        rdata = b""
        while text and len(rdata) + 2 <= room:
            n = min(255, room - len(rdata) - 1)
            chunk, text = text[:n], text[n:]
            rdata += bytes([len(chunk)]) + chunk.encode()
    else:
        rdata = os.urandom(room)
    rr = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 0, len(rdata)) + rdata
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0) if edns else b""
    return struct.pack("!HHHHHH", qid, 0x8400, 1, 1, 0, 1 if edns else 0) + question + rr + opt


def server(domain, addrs):
    sel = selectors.DefaultSelector()
    for a in addrs:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, 53))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            try:
                q, peer = key.fileobj.recvfrom(4096)
            except BlockingIOError:
                continue
            a = answer(q, domain)
            if a:
                key.fileobj.sendto(a, peer)


def client(srv, src, domain, qtype, rate, seconds, edns, data_bytes):
    fam = socket.AF_INET6 if ":" in srv else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(1.0)
    count = int(rate * seconds)
    start = time.monotonic()
    got = 0
    for seq in range(count):
        due = start + seq / rate
        if time.monotonic() - start > seconds + 5:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        data = base64.b32encode(os.urandom(data_bytes)).decode().lower().rstrip("=")
        labels = [f"{seq & 0xffff:04x}"] + [data[i:i + 63] for i in range(0, len(data), 63)]
        qid = int.from_bytes(os.urandom(2), "big")
        q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
        q += encode_name(".".join(labels) + "." + domain) + struct.pack("!HH", TYPES[qtype], 1)
        if edns:
            q += b"\x00" + struct.pack("!HHIH", 41, edns, 0, 0)
        s.sendto(q, (srv, 53))
        try:
            s.recvfrom(4096)
            got += 1
        except socket.timeout:
            pass
    print(f"sent {seq + 1} queries, {got} answers")


def main(argv):
    if len(argv) >= 3 and argv[0] == "server":
        server(argv[1].lower(), argv[2:])
    elif len(argv) in (7, 8, 9) and argv[0] == "client" and argv[4] in TYPES:
        client(argv[1], argv[2], argv[3].lower(), argv[4], float(argv[5]), float(argv[6]),
               int(argv[7]) if len(argv) >= 8 else 0, int(argv[8]) if len(argv) == 9 else 120)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
