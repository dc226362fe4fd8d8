"""The tutorial's driver: python3 driver COMMAND [ARGS] (./tutorial and tutorial.cmd start it).

The modules sit in this folder and import each other by name: ui (output, exits), paths
(where things are), system (the platform layer: system_linux or system_windows), build,
testing, exercises, pristine, checker, learner, teacher, verify, programs, checks and cli.
"""
import sys
from pathlib import Path

if sys.version_info < (3, 9):
    sys.exit("tutorial: the driver needs Python 3.9 or newer")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
