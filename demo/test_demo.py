#!/usr/bin/env python3
"""The demo's verdict agrees with the two servers' own leak reports.

Runs a short demo non-interactively, then checks that each number in the verdict line is the
one its server printed on its last line (`leaked: N contexts, B bytes`), that step 06 leaked
one context per immediate failure and step 07 none, and that no frame came back wrong.
Usage: test_demo.py BIN_DIR
"""
import pathlib
import re
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parent / "demo.py"


def main():
    bin_dir = sys.argv[1]
    out = pathlib.Path(bin_dir).resolve().parent / "demo-test"
    run = subprocess.run([sys.executable, str(DEMO), "--bin", bin_dir, "--out", str(out),
                          "--plain", "--seconds", "12", "--resets", "300"],
                         capture_output=True, text=True, timeout=600)
    print(run.stdout)
    print(run.stderr, file=sys.stderr)
    assert run.returncode == 0, f"the demo exited with {run.returncode}"

    reports = {}
    for step, body in re.findall(r"--- step (\d+)'s leak report ---\n(.*?)(?=\n--- step|\n\nframe clients)",
                                 run.stdout, re.S):
        last = body.strip().splitlines()[-1]
        match = re.fullmatch(r"leaked: (\d+) contexts, (\d+) bytes", last)
        assert match, f"step {step}'s report does not end with its leak line: {last!r}"
        reports[step] = (int(match.group(1)), int(match.group(2)))
    verdict = re.search(r"^verdict: 06 leaked=(\d+) bytes=(\d+); 07 leaked=(\d+) bytes=(\d+); resets=(\d+); "
                        r"06 immediate_failures=(\d+); 07 immediate_failures=(\d+)$", run.stdout, re.M)
    assert verdict, "no verdict line"
    said = {"06": (int(verdict.group(1)), int(verdict.group(2))),
            "07": (int(verdict.group(3)), int(verdict.group(4)))}
    assert said == reports, f"the verdict {said} disagrees with the servers' reports {reports}"
    assert reports["06"][0] > 0, "step 06 leaked nothing under the storm"
    assert reports["07"] == (0, 0), "step 07 leaked"
    # The incident's arithmetic: one leaked context per probe whose receive failed at once.
    assert reports["06"][0] == int(verdict.group(6)), "06's leaks are not its immediate failures"
    assert int(verdict.group(7)) > 0, "no receive failed at once in step 07: the fix went untested"
    frames = re.search(r"^frame clients: (\d+) frames echoed correctly, (\d+) echoed wrong", run.stdout, re.M)
    assert frames, "no frame clients line"
    assert int(frames.group(1)) > 0, "no frame was echoed"
    assert int(frames.group(2)) == 0, "a frame came back different from what was sent"
    assert (out / "demo.csv").stat().st_size > 0, "no CSV"
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
