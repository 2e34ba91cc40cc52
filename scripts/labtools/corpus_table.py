"""Prints the variants table of the corpus README, or rewrites it in place.

corpus_table.py DIR            print the markdown table for DIR/manifest.json
corpus_table.py DIR --update   replace the table between the markers
                               <!-- variants:begin --> and <!-- variants:end -->
                               in DIR/README.md

Packets and seconds are read from each gzipped classic pcap of the corpus.
"""
import gzip
import json
import os
import struct
import sys

BEGIN, END = "<!-- variants:begin -->", "<!-- variants:end -->"


def capture_stats(path):
    with gzip.open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        div = 1e9 if struct.unpack(end + "I", hdr[:4])[0] == 0xA1B23C4D else 1e6
        n, first, last = 0, None, None
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            sec, frac, incl, _ = struct.unpack(end + "IIII", rec)
            f.seek(incl, 1)
            t = sec + frac / div
            first = t if first is None else first
            last = t
            n += 1
    return n, (last - first) if n else 0.0


def table(d):
    with open(os.path.join(d, "manifest.json")) as f:
        m = json.load(f)
    rows = ["| variant | role | tool | packets | seconds | attack s | kB |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    total_b = total_p = total_s = 0
    for v in m["variants"]:
        path = os.path.join(d, v["file"])
        n, secs = capture_stats(path)
        size = os.path.getsize(path)
        total_b, total_p, total_s = total_b + size, total_p + n, total_s + secs
        atk = "%.1f" % (v["attack_end"] - v["attack_start"]) if "attack_start" in v else ""
        tool = v["tool"].replace("|", "\\|")
        rows.append(f"| `{v['name']}` | {v['role']} | `{tool}` | {n} | {secs:.0f} | {atk} | {size // 1024} |")
    rows.append(f"| **{len(m['variants'])} recordings** | | | {total_p} | {total_s:.0f} | | {total_b // 1024} |")
    return "\n".join(rows) + "\n"


def main(argv):
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] != "--update"):
        sys.exit(__doc__)
    t = table(argv[0])
    if len(argv) == 1:
        sys.stdout.write(t)
        return
    path = os.path.join(argv[0], "README.md")
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{path}: no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path + ".tmp", "w") as f:
        f.write(head + BEGIN + "\n" + t + END + tail)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main(sys.argv[1:])
