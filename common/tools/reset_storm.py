#!/usr/bin/env python3
"""A reset storm from outside the project (Linux or any host with Python 3): connect to
the server, then close with SO_LINGER {on, 0 s} so the stack sends RST instead of FIN.

    python3 common/tools/reset_storm.py --port 7006 --count 300
"""
import argparse
import concurrent.futures
import random
import socket
import struct
import sys
import time


# snippet:begin reset_once
def reset_once(host, port, hold_s):
    s = socket.create_connection((host, port), timeout=5)
    time.sleep(hold_s)  # like a probe: connected for a moment, then gone
    # l_onoff = 1, l_linger = 0: close() discards the connection with a reset
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
# snippet:end reset_once


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--interval-ms", type=float, default=0.5,
                        help="pause between connections (default 0.5 ms)")
    # How many of the resets make step 06 leak depends on where each lands (chapter 6 has the
    # timeline): one leaked context per receive that starts after its reset has arrived.
    parser.add_argument("--parallel", type=int, default=2,
                        help="connections made at once (default 2)")
    # The leak needs the reset to land just before the server's first receive; a reset
    # 5 ms after the connect never did (the receive is pending by then).
    parser.add_argument("--hold-ms", type=float, default=0.0,
                        help="longest time between connect and reset, random up to it (default 0)")
    args = parser.parse_args()
    def one(_):
        try:
            reset_once(args.host, args.port, random.uniform(0, args.hold_ms) / 1000)
        except OSError:
            return 1
        time.sleep(args.interval_ms / 1000)
        return 0

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        failed = sum(pool.map(one, range(args.count)))
    print(f"reset_storm.py: {args.count - failed} connections reset, {failed} failed, "
          f"in {time.monotonic() - started:.2f} s")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
