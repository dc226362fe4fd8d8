"""Where things are: the tree, its build folders, and the settings read from the environment.

TUTORIAL_BUILD_DIR, TUTORIAL_STEPS, TUTORIAL_VERIFY_DIR, TUTORIAL_GRADE_DIR, TUTORIAL_MSVC_DIR
and TUTORIAL_VERIFY_RUNS are read here and nowhere else.
"""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ON_WINDOWS = os.name == "nt"

# The step numbers the commands take; a missing step folder is skipped.
STEP = re.compile(r"0[1-8]")
EXERCISE_ID = re.compile(r"0[1-8]\.[0-9]+")


def env(name, default=""):
    return os.environ.get(name) or default


def default_build_name():
    if not ON_WINDOWS:
        return "mingw-wine"
    return "mingw" if env("TUTORIAL_WINDOWS_COMPILER") == "mingw" else "msvc"


def build_dir():
    return Path(env("TUTORIAL_BUILD_DIR", str(ROOT / "build" / default_build_name())))


def beside_build(variable, suffix):
    """A folder beside the build folder (…-verify, …-grade), unless variable names one."""
    return Path(env(variable, str(build_dir()) + suffix))


def selected_steps():
    """TUTORIAL_STEPS as a set of step numbers; empty means every step."""
    return set(env("TUTORIAL_STEPS").split())


def progress_dir(root=ROOT):
    return Path(root) / ".progress"


def solutions_dir():
    """The reference solutions and anti-solutions: solutions/, or the folder that
    TUTORIAL_SOLUTIONS names (a course copy leaves solutions/ out; its teacher keeps them
    elsewhere). None when there are none."""
    folder = Path(env("TUTORIAL_SOLUTIONS", str(ROOT / "solutions")))
    return folder if folder.is_dir() else None


DOWNLOADS = ROOT / "build" / "downloads"
WINE_RUN = ROOT / "cmake" / "wine-run"
