#!/usr/bin/env python3
"""The main demo: step 06 (the leak) and step 07 (the fix) side by side, under the same traffic.

Both servers run at once. Each gets the same reset storm — connections that are opened and
then reset at once, like the incident's monitoring probes — and a few well-behaved clients
that exchange length-prefixed frames. A table shows, every second, what each server reports
on its `stats:` lines; at the end each server prints its own leak report, and the demo prints
a verdict and draws a chart of live contexts and private bytes over time.

On Linux, ./tutorial demo builds everything and runs this under Wine. On Windows, after a
build (cmake --workflow --preset msvc):   python demo\\demo.py --bin build\\msvc\\bin
"""
import argparse
import csv
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATS = re.compile(r"^stats: (.*)$")
LEAKED = re.compile(r"^leaked: (\d+) contexts, (\d+) bytes\s*$")
SERVED = re.compile(r"^served: (.*)$")
LISTENING = re.compile(r"^listening on 127\.0\.0\.1:(\d+)\s*$")
COLUMNS = [("resets", "connections reset"), ("frames", "frames echoed"),
           ("live_contexts", "live contexts"), ("disposed_in_progress", "disposed, in flight"),
           ("private_bytes", "private bytes")]


class Program:
    """Runs a program of the project: directly on Windows, through cmake/wine-run elsewhere."""

    def __init__(self, bin_dir, wine_prefix):
        self.bin_dir = pathlib.Path(bin_dir)
        self.wine_prefix = wine_prefix

    def command(self, name, *args):
        exe = self.bin_dir / f"{name}.exe"
        if not exe.is_file():
            sys.exit(f"demo: {exe} is missing: build first (./tutorial build)")
        if os.name == "nt":
            return [str(exe), *args]
        return [str(ROOT / "cmake" / "wine-run"), "--prefix", str(self.wine_prefix), str(exe), *args]

    def start(self, name, *args):
        flags = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" \
            else {"start_new_session": True}  # our Ctrl-C is ours; we stop the servers in order
        return subprocess.Popen(self.command(name, *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **flags)


class Server:
    """One step's server: its stats lines as they arrive, and its leak report at the end."""

    def __init__(self, step, program, seconds, extra=()):
        self.step = step
        self.process = program.start(f"step{step}-server", "--port", "0", "--stats",
                                     "--seconds", str(seconds + 60), *extra)
        self.port = None
        self.latest = {}
        self.history = []
        self.report = []
        self.leaked = None
        self.served = {}
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(60) or self.port is None:
            self.stop()
            sys.exit(f"demo: step {step}'s server did not start: {self.process.stderr.read()}")

    def _read(self):
        for line in self.process.stdout:
            line = line.rstrip("\r\n")
            self.report.append(line)
            if (match := LISTENING.match(line)) and self.port is None:
                self.port = int(match.group(1))
                self.ready.set()
            elif match := STATS.match(line):
                values = dict(pair.split("=", 1) for pair in match.group(1).split())
                self.latest = {key: int(value) for key, value in values.items()}
                self.history.append(self.latest)
            elif match := SERVED.match(line):
                self.served = {k: int(v) for k, v in (pair.split("=", 1) for pair in match.group(1).split())}
            elif match := LEAKED.match(line):
                self.leaked = (int(match.group(1)), int(match.group(2)))
        self.ready.set()

    def stop(self):
        """Ctrl-C: the server drains its completions and prints its leak report."""
        if self.process.poll() is None:
            if os.name == "nt":
                self.process.send_signal(signal.CTRL_BREAK_EVENT)
            else:
                self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.reader.join(10)


GREETING = b"tutorial-echo/1"  # the frame steps 06 and 07 send first (common/include/tutorial/net.h)


class FrameClients:
    """A few well-behaved clients: each reads the server's greeting, then sends frames and
    checks every echo, byte for byte."""

    def __init__(self, port, count=3):
        self.port = port
        self.echoed = 0
        self.wrong = 0   # an echo that differs from what was sent: a bug in the server
        self.failed = 0  # an exchange that timed out or whose connection broke
        self.last_failure = ""
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)]
        for thread in self.threads:
            thread.start()

    def _exchange(self, connection, payload):
        connection.sendall(struct.pack(">I", len(payload)) + payload)
        header = self._receive(connection, 4)
        return self._receive(connection, struct.unpack(">I", header)[0])

    @staticmethod
    def _receive(connection, size):
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        return data

    def _run(self, seed):
        rng = random.Random(seed)
        while not self.stopping.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
                    header = self._receive(connection, 4)
                    if self._receive(connection, struct.unpack(">I", header)[0]) != GREETING:
                        raise ConnectionError("the server's first frame was not its greeting")
                    while not self.stopping.is_set():
                        payload = rng.randbytes(rng.randint(1, 4096))
                        if self._exchange(connection, payload) == payload:
                            self.echoed += 1
                        else:
                            self.wrong += 1
                        self.stopping.wait(0.05)  # pacing, not synchronisation
            except OSError as error:
                # Not a wrong echo: the connection broke or an answer took longer than the
                # socket's 10 s timeout (a machine under heavy load can do that). Reconnect.
                self.failed += 1
                self.last_failure = f"{type(error).__name__}: {error}"
                self.stopping.wait(0.5)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(15)


class Table:
    """The live side-by-side table: redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, servers, interactive):
        self.servers = servers
        self.interactive = interactive
        self.drawn = 0

    def show(self, elapsed):
        if not self.interactive:
            for server in self.servers:
                cells = " ".join(f"{key}={server.latest.get(key, 0)}" for key, _ in COLUMNS)
                print(f"t={elapsed:4.0f}s step{server.step}: {cells}", flush=True)
            return
        lines = [f"{'after %3.0f s' % elapsed:<20}" + "".join(f"{'step ' + s.step:>16}" for s in self.servers)]
        for key, label in COLUMNS:
            lines.append(f"{label:<20}" + "".join(f"{s.latest.get(key, 0):>16,}" for s in self.servers))
        if self.drawn:
            sys.stdout.write(f"\033[{self.drawn}F")
        sys.stdout.write("\n".join(f"{line}\033[K" for line in lines) + "\n")
        sys.stdout.flush()
        self.drawn = len(lines)


STORM_GRACE_S = 120  # how long after --seconds the table waits for the storms to finish


class Storm:
    """The probes: every second a burst of connections, each reset at once by the project's
    reset-storm program, until `resets` connections have been reset. Bursts at full speed
    hit the failing path more often under Wine than a slow trickle (see chapter 6)."""

    def __init__(self, program, port, resets, seconds):
        self.program = program
        self.port = port
        self.left = resets
        self.sent = 0
        self.per_burst = max(1, -(-resets // max(1, seconds - 5)))  # done 5 s before the end
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.left > 0 and not self.stopping.is_set():
            burst = min(self.per_burst, self.left)
            process = self.program.start("reset-storm", "--port", str(self.port), "--count",
                                         str(burst), "--rate", "0", "--parallel", "2")
            process.communicate(timeout=60)
            self.left -= burst
            self.sent += burst
            self.stopping.wait(1)  # the probes' period

    def running(self):
        return self.thread.is_alive()

    def stop(self, wait):
        if not wait:
            self.stopping.set()
        self.thread.join(120)


def write_csv(servers, path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["step", "seconds", "live_contexts", "disposed_in_progress",
                         "context_bytes", "private_bytes", "resets", "frames"])
        for server in servers:
            for row in server.history:
                writer.writerow([server.step, row.get("seconds", 0), row.get("live_contexts", 0),
                                 row.get("disposed_in_progress", 0), row.get("context_bytes", 0),
                                 row.get("private_bytes", 0), row.get("resets", 0), row.get("frames", 0)])


def draw_chart(csv_path, png_path, title):
    if not shutil.which("gnuplot"):
        print("demo: gnuplot is not installed: no chart (the CSV is there)")
        return False
    script = f"""
set terminal pngcairo size 1100,800 font ",11"
set output "{png_path}"
set datafile separator ","
set key top left
set grid
set multiplot layout 2,1 title "{title}"
set xlabel "seconds"
set ylabel "live contexts"
plot "{csv_path}" using ($1==6 ? $2 : 1/0):3 with linespoints lw 2 title "step 06 (the leak)", \\
     "{csv_path}" using ($1==7 ? $2 : 1/0):3 with linespoints lw 2 title "step 07 (the fix)"
set ylabel "private bytes (MiB)"
plot "{csv_path}" using ($1==6 ? $2 : 1/0):($6/1048576) with linespoints lw 2 title "step 06 (the leak)", \\
     "{csv_path}" using ($1==7 ? $2 : 1/0):($6/1048576) with linespoints lw 2 title "step 07 (the fix)"
unset multiplot
"""
    result = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if result.returncode != 0:
        print(f"demo: gnuplot failed: {result.stderr.strip()}")
        return False
    return True


def verdict(servers, resets):
    """One line per server. A probe's greeting or receive fails at once when its reset arrived
    before the server started that operation (the server counts those as
    immediate_failures): step 06 leaks one context for each of them, step 07 none."""
    lines = []
    for server in servers:
        if server.leaked is None:
            lines.append(f"step {server.step}: no leak report (did the server crash?)")
            continue
        contexts, size = server.leaked
        early = server.served.get("immediate_failures", 0)
        arrived = (f"{early:,} of the {resets:,} probes had their reset arrive before the "
                   f"server's greeting or receive, which then failed at once")
        if contexts:
            lines.append(f"step {server.step} leaked {contexts:,} contexts ({size:,} bytes, "
                         f"{size // contexts:,} each): {arrived}")
        else:
            lines.append(f"step {server.step} leaked nothing: {arrived}, and each was freed")
    machine = "; ".join(f"{s.step} leaked={s.leaked[0] if s.leaked else -1} "
                        f"bytes={s.leaked[1] if s.leaked else -1}" for s in servers)
    early = "; ".join(f"{s.step} immediate_failures={s.served.get('immediate_failures', -1)}"
                      for s in servers)
    return lines, f"verdict: {machine}; resets={resets}; {early}"


def main():
    parser = argparse.ArgumentParser(description="step 06 and step 07 side by side")
    parser.add_argument("--resets", type=int, default=3000, help="reset connections per server (default 3000)")
    parser.add_argument("--seconds", type=int, default=30, help="how long the traffic runs (default 30)")
    parser.add_argument("--bin", default=str(ROOT / "build" / "mingw-wine" / "bin"),
                        help="where the built programs are")
    parser.add_argument("--out", default=None, help="where the CSV and PNG go (default: <bin>/../demo)")
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    args = parser.parse_args()
    if args.resets < 1 or not 5 <= args.seconds <= 3600:
        parser.print_usage(sys.stderr)
        print("demo: --resets must be at least 1 and --seconds from 5 to 3600", file=sys.stderr)
        return 2

    bin_dir = pathlib.Path(args.bin).resolve()
    out_dir = pathlib.Path(args.out).resolve() if args.out else bin_dir.parent / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    program = Program(bin_dir, bin_dir.parent / "wineprefix")

    servers = [Server("06", program, args.seconds), Server("07", program, args.seconds)]
    print(f"step 06 (the leak) on port {servers[0].port}, step 07 (the fix) on port {servers[1].port}; "
          f"{args.resets} resets and 3 frame clients each, for about {args.seconds} s (Ctrl-C stops early)",
          flush=True)
    storms = [Storm(program, s.port, args.resets, args.seconds) for s in servers]
    clients = [FrameClients(s.port) for s in servers]
    table = Table(servers, sys.stdout.isatty() and not args.plain)
    started = time.monotonic()
    try:
        # The table runs as long as the traffic does: --seconds, and then until the storms
        # have sent every reset (each burst starts a program, slower under Wine and on a busy
        # machine), bounded by STORM_GRACE_S.
        while time.monotonic() - started < args.seconds or (
                any(storm.running() for storm in storms)
                and time.monotonic() - started < args.seconds + STORM_GRACE_S):
            time.sleep(1)  # the refresh period of the table
            table.show(time.monotonic() - started)
        for storm in storms:
            storm.stop(wait=True)
    except KeyboardInterrupt:
        print("\ndemo: stopping early")
        for storm in storms:
            storm.stop(wait=False)
    finally:
        for client in clients:
            client.stop()
        for server in servers:
            server.stop()

    elapsed = time.monotonic() - started
    if elapsed > args.seconds + 2:
        print(f"\nthe traffic ran {elapsed:.0f} s, not {args.seconds}: the storms needed that long "
              f"to send their {min(storm.sent for storm in storms):,} resets (every burst starts a "
              f"program, which takes longer under Wine and on a busy machine)")
    print()
    for server in servers:
        print(f"--- step {server.step}'s leak report ---")
        tail = [line for line in server.report if not line.startswith("stats:")][-12:]
        print("\n".join(tail))
    frames = sum(c.echoed for c in clients)
    wrong = sum(c.wrong for c in clients)
    failed = [c for c in clients if c.failed]
    print(f"\nframe clients: {frames} frames echoed correctly, {wrong} echoed wrong, "
          f"{sum(c.failed for c in clients)} exchanges failed")
    if failed:
        print(f"  (a failed exchange is a broken connection or a 10 s timeout, not a wrong echo; "
              f"the last: {failed[-1].last_failure})")
    lines, machine = verdict(servers, min(storm.sent for storm in storms))
    print("\n".join(lines))
    print(machine)

    csv_path, png_path = out_dir / "demo.csv", out_dir / "demo.png"
    write_csv(servers, csv_path)
    sent = min(storm.sent for storm in storms)
    if draw_chart(csv_path, png_path, f"{sent:,} resets per server over {elapsed:.0f} s"):
        print(f"chart: {png_path}")
    print(f"data:  {csv_path}")
    return 0 if all(s.leaked is not None for s in servers) else 1


if __name__ == "__main__":
    sys.exit(main())
