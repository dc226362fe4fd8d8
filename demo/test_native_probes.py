#!/usr/bin/env python3
"""The incident with probes the project did not write: Python connects and resets (linger on,
timeout 0), twenty times, 100 ms apart, as the monitoring service did every 5 s. No fault rule
is given to the servers.

- step 06 leaks one context per probe whose first operation met its reset: that is each
  probe whose operation failed at once (immediate_failures), and on an idle machine it is
  nearly every probe (20 of 20 measured); a probe whose reset comes while the receive is
  already pending ends through a completion and leaks nothing, as on Windows, so a busy
  machine, which delays the probe between its connect and its reset, leaks fewer;
- step 07 leaks none, with as many immediate failures;
- with --wine-resets (Wine's own behaviour), under Wine, the servers show Wine's own answer:
  the probes' accepts that Wine failed count as failed_accepts, and step 07 still leaks none.

On Windows the probes meet Windows itself; under Wine, the import layer's reset semantics
(tutorial/faults.h) answer as Windows does. Usage: test_native_probes.py BIN_DIR [PREFIX]
"""
import os
import pathlib
import socket
import struct
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from demo import Program, Server  # noqa: E402  (the demo's own way to run a server)

PROBES = 20
PACE_S = 0.1


def probe(port):
    """Connects, then closes with a reset, as `SO_LINGER {1, 0}` makes closesocket do."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def run(step, program, *flags):
    server = Server(step, program, seconds=30, extra=list(flags))
    for _ in range(PROBES):
        probe(server.port)
        time.sleep(PACE_S)  # the probes' pace, not a synchronisation
    server.stop()  # Ctrl-C: the server waits for what it is owed, then reports
    if server.leaked is None:
        sys.exit(f"step {step} {' '.join(flags)}: no leak report:\n" + "\n".join(server.report))
    print(f"step {step} {' '.join(flags) or '(defaults)'}: {server.served}")
    print("\n".join(line for line in server.report if " x " in line or line.startswith("leaked")))
    return server


def main():
    bin_dir = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else str(pathlib.Path(bin_dir).resolve().parent / "wineprefix")
    program = Program(bin_dir, prefix)
    under_wine = os.name != "nt"
    failures = []

    leak = run("06", program)
    immediate = leak.served.get("immediate_failures", 0)
    if leak.leaked[0] == 0 or leak.leaked[0] != immediate:
        failures.append(f"step 06 leaked {leak.leaked[0]} contexts for {immediate} immediate "
                        f"failures of {PROBES} probes (one per immediate failure, and some)")
    fixed = run("07", program)
    if fixed.leaked != (0, 0):
        failures.append(f"step 07 leaked {fixed.leaked[0]} contexts")
    if fixed.served.get("immediate_failures", 0) == 0:
        failures.append("step 07 saw no immediate failure: its fix went untested")
    print(f"{PROBES} probes: step 06 leaked {leak.leaked[0]}, step 07 leaked {fixed.leaked[0]} "
          f"with {fixed.served.get('immediate_failures', 0)} immediate failures")

    if under_wine:
        wine_own = run("07", program, "--wine-resets")
        if wine_own.leaked != (0, 0):
            failures.append("step 07 --wine-resets leaked")
        if wine_own.served.get("failed_accepts", 0) + wine_own.served.get("immediate_failures", 0) \
                + wine_own.served.get("closed", 0) + wine_own.served.get("resets", 0) == 0:
            failures.append("step 07 --wine-resets saw none of the probes")
        print(f"with --wine-resets, Wine's own answer: failed_accepts="
              f"{wine_own.served.get('failed_accepts')} accepted={wine_own.served.get('accepted')}")

    for failure in failures:
        print("FAILED:", failure)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
