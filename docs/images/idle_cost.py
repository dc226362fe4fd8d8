#!/usr/bin/env python3
"""Draws docs/images/idle-cost.png: what 100 idle clients cost the servers of steps 01 to 05.

For each step it starts the step's own server (under Wine on Linux), measures it with the
project's proc-stats program, connects 100 clients that send nothing (the project's client,
--hold 100), waits until the numbers settle, and measures again: threads, and the private
memory the process has committed. Writes idle-cost.csv and idle-cost.png into build/charts/; with --docs, over the copies beside
this file that the chapters show.
Run it after ./tutorial build:   python3 docs/images/idle_cost.py
"""
import pathlib
import re
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# A learner's run writes into the build tree; a maintainer refreshes the docs with --docs.
OUT = HERE if "--docs" in sys.argv[1:] else ROOT / "build" / "charts"
sys.path.insert(0, str(ROOT / "demo"))
from demo import Program  # noqa: E402  (runs .exe files directly on Windows, under Wine elsewhere)

BUILD = ROOT / "build" / "mingw-wine"
CLIENTS = 100
STATS = re.compile(r"threads=(\d+) committed_private_kib=(\d+)")
STEPS = ["01", "02", "03", "04", "05"]


def measure(program, exe):
    result = subprocess.run(program.command("proc-stats", "--name", exe), capture_output=True,
                            text=True, timeout=60)
    match = STATS.search(result.stdout)
    if not match:
        sys.exit(f"idle_cost: proc-stats failed for {exe}: {result.stderr.strip()}")
    return int(match.group(1)), int(match.group(2))


def settled(program, exe, tries=40):
    """Measures until two readings 250 ms apart agree (the server has taken every client)."""
    last = measure(program, exe)
    for _ in range(tries):
        time.sleep(0.25)  # the interval between two readings, not a synchronisation
        now = measure(program, exe)
        if now == last:
            return now
        last = now
    return last


def cost_of(program, step):
    exe = f"step{step}-server.exe"
    server = program.start(f"step{step}-server", "--port", "0", "--seconds", "60")
    port = int(server.stdout.readline().rsplit(":", 1)[1])
    before = settled(program, exe)
    holder = program.start("client", "--port", str(port), "--hold", str(CLIENTS), "--seconds", "30")
    holder.stdout.readline()  # "holding 100 connections ...": every connect has succeeded
    after = settled(program, exe)
    holder.terminate()
    server.terminate()
    holder.wait(30)
    server.wait(30)
    return before, after


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    program = Program(BUILD / "bin", BUILD / "wineprefix")
    rows = []
    for step in STEPS:
        (threads0, kib0), (threads, kib) = cost_of(program, step)
        rows.append((step, threads0, kib0 / 1024, threads, kib / 1024))
        print(f"step {step}: {threads0} -> {threads} threads, "
              f"{kib0 / 1024:.1f} -> {kib / 1024:.1f} MiB committed with {CLIENTS} idle clients",
              flush=True)
    csv = OUT / "idle-cost.csv"
    csv.write_text("step,threads_idle,committed_mib_idle,threads_100,committed_mib_100\n" +
                   "".join(f"{s},{a},{b:.1f},{c},{d:.1f}\n" for s, a, b, c, d in rows))
    script = f"""
set terminal pngcairo size 900,450 font ",11"
set output "{OUT / 'idle-cost.png'}"
set datafile separator ","
set multiplot layout 1,2 title "What {CLIENTS} idle clients cost each step's server (Wine 8)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top right
set xlabel "step"
set ylabel "threads"
plot "{csv}" every ::1 using 2:xtic(1) title "no client", "" every ::1 using 4 title "{CLIENTS} idle clients"
set ylabel "committed private memory (MiB)"
plot "{csv}" every ::1 using 3:xtic(1) title "no client", "" every ::1 using 5 title "{CLIENTS} idle clients"
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(csv.read_text(), end="")
    print(f"chart: {OUT / 'idle-cost.png'}")


if __name__ == "__main__":
    main()
