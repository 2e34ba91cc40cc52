"""A connect() scanner that retries refused ports, for the lab only.

connect_scan.py SOURCE TARGET FIRST LAST TRIES GAP PARALLEL

Tries TCP ports FIRST..LAST of TARGET from SOURCE with connect(): a port
that answers is closed at once; a refused or silent one is tried again,
TRIES times in all, GAP seconds apart, as Windows' connect() retries a
refused port (its connect scans send 10 or more SYNs to a closed port).
PARALLEL ports are tried at once. Every connect() times out after a
second, so the run is bounded by the port count, TRIES and GAP.
"""
import socket
import sys
import threading
import time


def try_port(src, target, port, tries, gap):
    fam = socket.AF_INET6 if ":" in target else socket.AF_INET
    for _ in range(tries):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.bind((src, 0))
            s.connect((target, port))
            return True
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(gap)
    return False


def main(argv):
    if len(argv) != 7:
        sys.exit(__doc__)
    src, target = argv[0], argv[1]
    first, last, tries, gap, parallel = int(argv[2]), int(argv[3]), int(argv[4]), float(argv[5]), int(argv[6])
    ports = list(range(first, last + 1))
    open_ports = []
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not ports:
                    return
                port = ports.pop(0)
            if try_port(src, target, port, tries, gap):
                with lock:
                    open_ports.append(port)

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("open:", sorted(open_ports))


if __name__ == "__main__":
    main(sys.argv[1:])
