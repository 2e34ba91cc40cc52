"""A paced UDP flood for the lab (hping3 has no IPv6).

udp_flood.py DEST PORT SIZE RATE COUNT

Sends COUNT datagrams of SIZE random bytes to DEST:PORT (IPv4 or IPv6),
RATE a second, from one socket (one source port). Used by record-corpus.sh
against the lab victim only.
"""
import os
import socket
import sys
import time


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    dest, port, size, rate, count = argv[0], int(argv[1]), int(argv[2]), float(argv[3]), int(argv[4])
    s = socket.socket(socket.AF_INET6 if ":" in dest else socket.AF_INET, socket.SOCK_DGRAM)
    payload = os.urandom(size)
    start = time.monotonic()
    sent = 0
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            s.sendto(payload, (dest, port))
            sent += 1
        except OSError:  # ICMP port unreachable reported on the socket
            pass
    print(f"sent {sent} datagrams in {time.monotonic() - start:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
