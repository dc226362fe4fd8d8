"""./tutorial COMMAND [ARGS]: which module does what, and the help text."""
import shutil
import subprocess
import sys

import build
import checks
import learner
import programs
import grading
import handin
import system
import teacher
import testing
import verify
from paths import ROOT, build_dir
from ui import Stop, refuse, report, say, usage_error

HELP = """usage: ./tutorial <command> [args]

  setup              install what is missing (Debian/Ubuntu packages, cmocka's release)
  build              build every step (mingw-w64)
  test [NN|docs...] [--thorough]
                     build, then run all tests, or those of steps NN (e.g. ./tutorial test 04);
                     the long ones (labelled thorough) run with --thorough, as CI does, or when
                     steps are named
  run NN [ARGS...]   run step NN's server under Wine, e.g. ./tutorial run 04 --port 0
  demo [--resets N] [--seconds N]
                     step 06 and step 07 side by side under the same reset storm, with a chart
  run PROGRAM [ARGS] run another program of build/mingw-wine/bin, e.g. ./tutorial run client --help
  exercises          list the exercises, which you have done, and the files each has you edit
  next [--skip]      the first exercise not done yet, in the teaching page's order (in each
                     step the short ones first; the capstone last): where to read, what to edit;
                     --skip puts it off until the others are done or skipped
  check NN.K         check your work on exercise NN.K (e.g. ./tutorial check 04.1); for a
                     predict exercise, your first prediction is recorded first (.progress/)
  hint NN.K [N]      a hint for NN.K, one stage more each time you ask; with N, stage N again
  watch [NN.K]       check again each time you save one of the exercise's files (Ctrl-C stops)
  reset NN.K         restore the files exercise NN.K has you edit, as they were handed out
                     (your version is kept in .progress/backups/)
  submit [--name NAME]
                     pack what your teacher grades into handin/NAME-TIME.zip: the exercises'
                     files and .progress/ (your first predictions), not build/
  course-copy [--through NN] DIR
                     (teachers) the copy to hand out: no .git, no solutions/, the exercise
                     files kept in .pristine/ for reset and grade (docs/teaching.md); with
                     --through, steps 01 to NN only (a later step answers an earlier exercise)
  grade [--csv FILE] [--rubric FILE] [--jobs N] DIR|ZIP...
                     (teachers) run every checker on the exercise files of each student's tree
                     or hand-in (submit's zip), on a clean copy of the tutorial, N students at
                     once (as many as there are cores); a table, and a gradebook in grades/
  verify-exercises   (CI) every checker fails before, passes with its reference solution
                     (the step's tests too), twice more beside two busy loops
                     (TUTORIAL_VERIFY_RUNS=N: N runs in all), and fails with each anti-solution
  bench [--quick]    the steps' servers measured side by side (docs/bench.md)
  docs               rewrite the code blocks in docs/ from the source
  docs-run [NAME...] (CI) run the commands the chapters mark runnable, as a reader would, and
                     compare what they print with the text (--list names them)
  portability        compile everything with clang for the mingw target
  msvc-check         (CI) MSVC mode: build everything (and every exercise's checker, with its
                     reference solution) with clang-cl, Wine's SDK headers and MSVC's /W4 /WX,
                     and run the tests under Wine
  clean              remove build/ (the build tree and its Wine prefix; .progress/ stays)
  help               this text

build, test and run install what is missing themselves.

TUTORIAL_BUILD_DIR names the build folder (build/mingw-wine by default), TUTORIAL_STEPS="04 05"
builds only some steps. verify-exercises and grade work beside it, in $TUTORIAL_BUILD_DIR-verify
and -grade (or TUTORIAL_VERIFY_DIR, TUTORIAL_GRADE_DIR); msvc-check in build/msvc-mode (or
TUTORIAL_MSVC_DIR), with -src and -exercises beside it."""


def cmd_setup():
    system.setup()
    say("everything needed is installed")


def cmd_clean():
    system.before_clean(build_dir())
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    say("removed build/")


def no_arguments(command):
    return lambda args: command() if not args else usage_error(
        f"{command.__name__[4:].replace('_', '-')} takes no arguments, not '{args[0]}'")


COMMANDS = {
    "setup": no_arguments(cmd_setup),
    "build": no_arguments(build.cmd_build),
    "test": testing.cmd_test,
    "run": programs.cmd_run,
    "demo": programs.cmd_demo,
    "exercises": no_arguments(learner.cmd_exercises),
    "next": learner.cmd_next,
    "check": learner.cmd_check,
    "hint": learner.cmd_hint,
    "watch": learner.cmd_watch,
    "reset": learner.cmd_reset,
    "submit": handin.cmd_submit,
    "course-copy": teacher.cmd_course_copy,
    "grade": grading.cmd_grade,
    "verify-exercises": no_arguments(verify.cmd_verify_exercises),
    "bench": programs.cmd_bench,
    "docs": no_arguments(checks.cmd_docs),
    "docs-run": checks.cmd_docs_run,
    "portability": no_arguments(checks.cmd_portability),
    "msvc-check": no_arguments(checks.cmd_msvc_check),
    "clean": no_arguments(cmd_clean),
    "help": lambda args: print(HELP),
}


# Commands that check the project on Linux: they drive Wine, bash and Debian's packages.
LINUX_ONLY = {"docs-run", "portability", "msvc-check", "bench"}


def main(argv):
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except AttributeError:
        pass
    command, args = (argv[0], argv[1:]) if argv else ("help", [])
    try:
        if command not in COMMANDS:
            usage_error(f"unknown command '{command}'")
        if command in LINUX_ONLY and system.NAME != "Linux":
            refuse(f"{command} checks the project on Linux (it drives Wine and Debian's packages); "
                   "on Windows, test and verify-exercises are the checks to run")
        status = COMMANDS[command](args)
        return status if isinstance(status, int) else 0
    except Stop as stop:
        return report(stop)
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    except KeyboardInterrupt:
        return 130

