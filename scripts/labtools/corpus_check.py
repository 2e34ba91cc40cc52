"""Checks the labels of the corpus against its captures, with tshark.

corpus_check.py DIR [NAME ...]

For every attack variant in DIR/manifest.json (or the NAMEs given) it
counts the attack packets inside and outside [attack_start, attack_end]:
those from the attacker's MAC for a LAN attacker (ARP only for ARP
spoofing), from the reflectors for reflection, from the senders to the
targets when the senders also carry benign traffic (tunnel, spike, a flood
from the clients: there packets outside are expected); and the packets to
the targets inside the window. For a traffic drop it compares the packet
rate inside and outside the window. A line per variant; "CHECK" marks one
with no attack packets in its window, many outside it, or a drop window as
busy as the rest.
"""
import json
import os
import subprocess
import sys


def fields(path, flt, *names):
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "separator=\t"]
    if flt:
        cmd += ["-Y", flt]
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def addr_filter(field, addrs):
    parts = []
    for a in addrs:
        v6 = ":" in a
        f = field.replace("ip.", "ipv6.") if v6 else field
        parts.append(f"{f}=={a}")
    return "(" + " || ".join(parts) + ")" if parts else ""


def check(d, v):
    path = os.path.join(d, v["file"])
    rows = fields(path, "", "frame.time_epoch")
    times = [float(r[0]) for r in rows]
    first, last = times[0], times[-1]
    a, b = v["attack_start"], v["attack_end"]
    if v["type"] == "traffic_drop":
        inside = sum(1 for t in times if a <= t <= b)
        rate_in = inside / max(b - a, 1e-9)
        rate_out = (len(times) - inside) / max((last - first) - (b - a), 1e-9)
        flag = "" if rate_in < 0.5 * rate_out else "  CHECK"
        return f"{len(times):7d} pkts  drop window {b - a:6.1f}s: {rate_in:6.1f} pkt/s inside, {rate_out:6.1f} outside{flag}"
    macs = "(" + " || ".join(f"eth.src=={m}" for m in v["attacker_macs"]) + ")"
    shared = False  # the senders also send benign traffic
    if v["type"] == "arp_spoofing":
        flt = macs + " && arp"
    elif v["type"] in ("dns_amplification", "reflection"):
        flt = addr_filter("ip.src", v["attackers"])
    elif v["type"] in ("dns_tunnel", "traffic_spike") or len(v["attackers"]) > 1:
        flt = addr_filter("ip.src", v["attackers"]) + " && " + addr_filter("ip.dst", v["targets"])
        shared = True
    else:
        flt = macs
    sent = [float(r[0]) for r in fields(path, flt, "frame.time_epoch")]
    inside = sum(1 for t in sent if a <= t <= b)
    outside = len(sent) - inside
    to_targets = 0
    tflt = addr_filter("ip.dst", [t for t in v["targets"] if "/" not in t])
    if tflt:
        to_targets = sum(1 for r in fields(path, tflt, "frame.time_epoch") if a <= float(r[0]) <= b)
    bad = inside == 0 or (outside > 0.05 * inside and not shared)
    return (f"{len(times):7d} pkts  window {b - a:7.2f}s  attacker pkts {inside:6d} in, {outside:5d} out;"
            f" {to_targets:6d} to targets in window{'  CHECK' if bad else ''}")


def main(argv):
    if not argv:
        sys.exit(__doc__)
    d = argv[0]
    with open(os.path.join(d, "manifest.json")) as f:
        m = json.load(f)
    for v in m["variants"]:
        if v["role"] != "attack" or (argv[1:] and v["name"] not in argv[1:]):
            continue
        print(f"{v['name']:42s} {check(d, v)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
