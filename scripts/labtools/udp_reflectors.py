"""UDP amplifiers for reflection tests: chargen (RFC 864) and SSDP.

udp_reflectors.py chargen ADDR [ADDR ...]   UDP port 19
udp_reflectors.py ssdp ADDR [ADDR ...]      UDP port 1900

chargen answers every datagram with a random number (0 to 512) of the
rotating printable-character pattern, as RFC 864 says for UDP. SSDP answers
an M-SEARCH with one HTTP/1.1 200 response per advertised service (six, as a
UPnP media device with a few services does for ssdp:all). Used by
record-corpus.sh in the lab's wan namespace only, where the attacker spoofs
the victim's address; the answers go to the victim.
"""
import random
import selectors
import socket
import sys

PATTERN = bytes(range(33, 127)) * 12
SERVICES = [
    "upnp:rootdevice",
    "urn:schemas-upnp-org:device:MediaServer:1",
    "urn:schemas-upnp-org:service:ContentDirectory:1",
    "urn:schemas-upnp-org:service:ConnectionManager:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
]
UUID = "uuid:4d696e69-444c-164e-9d41-b827eb1e2f3a"


def chargen(line):
    n = random.randint(0, 512)
    start = line % 95
    return [PATTERN[start:start + n]]


def ssdp(data, addr):
    if not data.startswith(b"M-SEARCH"):
        return []
    out = []
    for st in SERVICES:
        out.append((
            "HTTP/1.1 200 OK\r\n"
            "CACHE-CONTROL: max-age=1800\r\n"
            "DATE: Mon, 01 Dec 2025 10:00:00 GMT\r\n"
            "EXT:\r\n"
            f"LOCATION: http://{addr}:49152/description.xml\r\n"
            "SERVER: Linux/5.10 UPnP/1.0 MiniDLNA/1.3.0\r\n"
            f"ST: {st}\r\n"
            f"USN: {UUID}::{st}\r\n"
            "BOOTID.UPNP.ORG: 17\r\n"
            "CONFIGID.UPNP.ORG: 1\r\n\r\n").encode())
    return out


def main(argv):
    if len(argv) < 2 or argv[0] not in ("chargen", "ssdp"):
        sys.exit(__doc__)
    kind, port = argv[0], 19 if argv[0] == "chargen" else 1900
    sel = selectors.DefaultSelector()
    for a in argv[1:]:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, a)
    line = 0
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            try:
                data, peer = s.recvfrom(2048)
            except BlockingIOError:
                continue
            answers = chargen(line) if kind == "chargen" else ssdp(data, key.data)
            line += 1
            for a in answers:
                try:
                    s.sendto(a, peer)
                except OSError:
                    pass


if __name__ == "__main__":
    main(sys.argv[1:])
