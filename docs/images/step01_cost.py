#!/usr/bin/env python3
"""Draws docs/images/step01-cost.png: what idle clients cost step 01's server.

Starts step01-server (under Wine on Linux), connects idle clients in steps, and records the
line the server prints after each change ("clients=N threads=M process_threads=P
reserved=X MiB committed=Y MiB"). Writes step01-cost.csv and step01-cost.png into build/charts/; with --docs, over the copies beside
this file that the chapters show.
Run it after ./tutorial build:   python3 docs/images/step01_cost.py
"""
import pathlib
import re
import socket
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# A learner's run writes into the build tree; a maintainer refreshes the docs with --docs.
OUT = HERE if "--docs" in sys.argv[1:] else ROOT / "build" / "charts"
sys.path.insert(0, str(ROOT / "demo"))
from demo import Program  # noqa: E402  (runs .exe files directly on Windows, under Wine elsewhere)

BUILD = ROOT / "build" / "mingw-wine"
LINE = re.compile(r"clients=(\d+) threads=(\d+) process_threads=(\d+) "
                  r"reserved=([\d.]+)MiB committed=([\d.]+)MiB")
STEPS = [0, 1, 10, 25, 50, 100, 150, 200]


def start_server():
    program = Program(BUILD / "bin", BUILD / "wineprefix")  # the demo's way to run a program
    server = program.start("step01-server", "--port", "0")
    port = int(server.stdout.readline().rsplit(":", 1)[1])
    return server, port


def line_for(server, clients):
    """Reads the server's lines until the one that reports `clients` connected clients."""
    for text in server.stdout:
        match = LINE.search(text)
        if match and int(match.group(1)) == clients:
            return [float(value) for value in match.groups()]
    sys.exit("step01_cost: the server stopped talking")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    server, port = start_server()
    rows = [line_for(server, 0)]
    connections = []
    for target in STEPS[1:]:
        while len(connections) < target:
            connections.append(socket.create_connection(("127.0.0.1", port)))
        rows.append(line_for(server, target))
    for connection in connections:
        connection.close()
    server.terminate()
    server.wait(30)

    csv = OUT / "step01-cost.csv"
    csv.write_text("clients,threads,process_threads,reserved_mib,committed_mib\n" +
                   "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows))
    script = f"""
set terminal pngcairo size 900,500 font ",11"
set output "{OUT / 'step01-cost.png'}"
set datafile separator ","
set key top left
set grid
set title "Step 01: one thread per client, idle or not (Wine 8)"
set xlabel "idle clients connected"
set ylabel "threads"
set y2label "MiB"
set ytics nomirror
set y2tics
plot "{csv}" every ::1 using 1:2 axes x1y1 with linespoints lw 2 title "server threads", \\
     "{csv}" every ::1 using 1:4 axes x1y2 with linespoints lw 2 title "address space reserved (MiB)", \\
     "{csv}" every ::1 using 1:5 axes x1y2 with linespoints lw 2 title "memory committed (MiB)"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(csv.read_text(), end="")
    print(f"chart: {OUT / 'step01-cost.png'}")


if __name__ == "__main__":
    main()
