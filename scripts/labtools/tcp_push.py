"""A rate-limited bulk TCP upload for the lab's traffic-spike tests.

tcp_push.py SOURCE DEST PORT BYTES_PER_SECOND SECONDS

Connects from SOURCE to DEST:PORT and sends BYTES_PER_SECOND of a repeated
text block for SECONDS, in 16 kB writes, then closes. Used by
record-corpus.sh against a listener on the lab victim only.
"""
import socket
import sys
import time

BLOCK = (b"backup chunk 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n" * 220)[:16384]


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    src, dest, port, rate, seconds = argv[0], argv[1], int(argv[2]), float(argv[3]), float(argv[4])
    s = socket.create_connection((dest, port), timeout=10, source_address=(src, 0))
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.sendall(BLOCK)
        sent += len(BLOCK)
    s.close()
    print(f"sent {sent} bytes in {time.monotonic() - start:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
