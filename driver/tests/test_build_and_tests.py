"""The build's progress filter and the rerun of tests that Wine never started."""
import io
import sys
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import build  # noqa: E402
import build as build_module  # noqa: E402
import testing  # noqa: E402


class Clock:
    def __init__(self, times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


class Progress(unittest.TestCase):
    def run_filter(self, lines, times):
        shown, errors = [], io.StringIO()
        with redirect_stderr(errors):
            build.filter_progress(lines, write=shown.append, clock=Clock(times))
        return shown, errors.getvalue()

    def test_an_up_to_date_build_prints_nothing(self):
        shown, progress = self.run_filter(["ninja: no work to do.\n"], [0])
        self.assertEqual((shown, progress), ([], ""))

    def test_a_long_build_says_how_far_it_is_every_fifteen_seconds(self):
        lines = [f"[{n}/146] Building C object x{n}.o\n" for n in range(1, 5)]
        shown, progress = self.run_filter(lines, [0, 5, 16, 16, 20, 40, 40])
        self.assertEqual(shown, [])
        self.assertEqual(progress.splitlines(), ["    built 2 of 146", "    built 4 of 146"])

    def test_errors_and_warnings_pass_through_as_they_come(self):
        lines = ["[1/2] Building C object a.o\n", "a.c:1:1: error: oops\n", "-- Configuring done\n"]
        shown, _ = self.run_filter(lines, [0])
        self.assertEqual(shown, ["a.c:1:1: error: oops"])


class Configure(unittest.TestCase):
    def configure(self, build, steps):
        runs = []
        with mock.patch.dict("os.environ", {"TUTORIAL_STEPS": steps}), \
                mock.patch.object(build_module.system, "configure_command",
                                  lambda source, b, cmocka, s: ["configure", s]), \
                mock.patch.object(build_module.subprocess, "run", lambda cmd, **kw: runs.append(cmd)), \
                redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()):
            build_module.configure_tree(Path("/src"), build, [])
        return runs

    def test_a_build_folder_is_configured_again_only_for_other_steps(self):
        import tempfile
        build = Path(tempfile.mkdtemp())
        self.assertEqual(self.configure(build, "05"), [["configure", "05"]])
        (build / "CMakeCache.txt").write_text("X:BOOL=ON\nTUTORIAL_STEPS:STRING=05\n")
        self.assertEqual(self.configure(build, "05"), [])
        self.assertEqual(self.configure(build, "06 07"), [["configure", "06 07"]])
        (build / "CMakeCache.txt").write_text("TUTORIAL_STEPS:STRING=06;07\n")
        self.assertEqual(self.configure(build, "07 06"), [])


class TestCommand(unittest.TestCase):
    SILENT = "21/39 Test #31: step04.iocp_rules ......***Failed    0.27 sec\n\n97% tests passed, 1 tests failed\n"
    REAL = "21/39 Test #31: step04.iocp_rules ......***Failed    0.27 sec\n[  FAILED  ] a_test\n"

    def run_test_command(self, first_log):
        runs = []

        def fake_run(command):
            runs.append(command)
            return (8, first_log) if len(runs) == 1 else (0, "")

        with mock.patch.object(testing, "run_and_show", fake_run), \
                mock.patch.object(testing, "cmd_build", lambda: None), \
                redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as said:
            status = testing.cmd_test(["04"])
        return status, runs, said.getvalue()

    def test_a_test_wine_never_started_is_run_once_more_and_said_so(self):
        status, runs, said = self.run_test_command(self.SILENT)
        self.assertEqual(status, 0)
        self.assertIn("--rerun-failed", runs[1])
        self.assertIn("run again: step04.iocp_rules", said)

    def test_a_test_that_printed_its_failure_is_not_run_again(self):
        status, runs, _ = self.run_test_command(self.REAL)
        self.assertEqual((status, len(runs)), (8, 1))


class SilentFailures(unittest.TestCase):
    def test_a_failure_that_printed_nothing_in_under_a_second_never_ran(self):
        log = ("      Start 12: step04.load\n12/40 Test #12: step04.load ......***Failed    0.02 sec\n"
               "      Start 13: step04.rules\n13/40 Test #13: step04.rules .....   Passed    1.20 sec\n")
        self.assertEqual(testing.silent_failures(log), ["step04.load"])

    def test_a_failure_that_printed_something_is_a_real_failure(self):
        log = ("12/40 Test #12: step04.load ......***Failed    0.02 sec\n[==========] Running 3 test(s).\n"
               "13/40 Test #13: step04.rules .....   Passed    1.20 sec\n")
        self.assertEqual(testing.silent_failures(log), [])

    def test_a_failure_that_took_a_second_or_more_is_a_real_failure(self):
        log = "12/40 Test #12: step04.load ......***Failed    1.50 sec\n100% tests passed\n"
        self.assertEqual(testing.silent_failures(log), [])

    def test_the_time_of_a_line_broken_by_a_failed_pattern_is_read_on_the_next_line(self):
        log = "12/40 Test #12: step04.load ......***Failed  Required regular expression not found. Regex=[ok\n  | ]  0.16 sec\n"
        self.assertEqual(testing.silent_failures(log), ["step04.load"])

    def test_labels_name_steps_and_groups_and_refuse_anything_else(self):
        self.assertEqual(testing.label_for("04"), "step04")
        self.assertEqual(testing.label_for("docs"), "docs")
        from ui import Stop
        with self.assertRaises(Stop) as refused:
            testing.label_for("9")
        self.assertEqual(refused.exception.status, 2)


class CourseOrder(unittest.TestCase):
    def test_within_a_step_the_short_exercises_come_before_the_long_ones(self):
        import exercises
        rows = [exercises.parse_row(r) for r in ("01.1\textend\ta\tf", "01.2\tpredict\tb\tf",
                                                 "02.1\textend\tc\tf", "02.2\tfind the bug\td\tf")]
        self.assertEqual([e.id for e in exercises.course_order(rows)], ["01.2", "01.1", "02.2", "02.1"])

    def test_the_capstone_comes_last_of_all(self):
        import exercises
        rows = [exercises.parse_row(r) for r in ("01.3\textend\tCapstone: all of it\tf", "01.1\textend\ta\tf",
                                                 "02.1\tpredict\tc\tf")]
        self.assertEqual([e.id for e in exercises.course_order(rows)], ["01.1", "02.1", "01.3"])


if __name__ == "__main__":
    unittest.main()
