"""Reading a checker's verdict from ctest's log, and ctest's own refusal of a checker that is
not registered."""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import checker  # noqa: E402
import exercises  # noqa: E402

RAN = "1: [ RUN      ] t\n1: [       OK ] t\n1: [  PASSED  ] 1 test(s).\n"


class Verdict(unittest.TestCase):
    def test_cmockas_lines_without_the_verdict_line_fail(self):
        self.assertFalse(checker.ran_to_the_end(RAN, "0123abcd"))

    def test_a_verdict_line_with_another_runs_key_fails(self):
        self.assertFalse(checker.ran_to_the_end(RAN + "1: verdict: 99999999 passed 1\n", "0123abcd"))

    def test_the_verdict_line_with_this_runs_key_passes(self):
        self.assertTrue(checker.ran_to_the_end(RAN + "1: verdict: 0123abcd passed 1\n", "0123abcd"))

    def test_a_test_without_its_ok_line_fails_even_with_the_verdict(self):
        log = "1: [ RUN      ] t\n1: [ RUN      ] u\n1: [       OK ] t\n1: verdict: k passed 2\n"
        self.assertFalse(checker.ran_to_the_end(log, "k"))

    def test_each_run_draws_a_new_key(self):
        self.assertNotEqual(checker.verdict_key(), checker.verdict_key())


class LearnerLines(unittest.TestCase):
    LOG = ("1: Test command: /usr/bin/wine-run x\n1: [ RUN      ] t\n1: measured: 3 packets\n"
           "1:   why: the batch takes them all\n1: [  ERROR   ] --- expected 4\n1: the worker ended early\n"
           "1: [  FAILED  ] 1 test(s), listed below:\n1: [  FAILED  ] t\n")

    def test_the_lines_for_the_learner_are_why_and_measured(self):
        self.assertEqual(checker.learner_lines(self.LOG), ["measured: 3 packets", "why: the batch takes them all"])

    def test_the_checkers_words_leave_out_ctest_and_cmocka_bookkeeping(self):
        words = checker.checker_words(self.LOG)
        self.assertIn("the worker ended early", words)
        self.assertNotIn("[ RUN      ] t", words)
        self.assertFalse(any(w.startswith("Test command") for w in words))
        self.assertFalse(any("listed below" in w or w == "[  FAILED  ] t" for w in words))

    def test_a_test_that_failed_before_cmocka_spoke_shows_what_it_printed(self):
        log = "1/1 Test #5: step04.load ....***Failed    0.02 sec\nwine: cannot start\n"
        lines = checker.failed_tests(log)
        self.assertIn("  | wine: cannot start", lines)

    def test_compile_errors_are_the_compilers_lines(self):
        log = "[1/3] Building C object x.o\nx.c:3:1: error: expected ';'\nninja: build stopped\n"
        self.assertEqual(checker.compile_errors(log), ["x.c:3:1: error: expected ';'"])


@unittest.skipIf(shutil.which("ctest") is None, "ctest is not installed")
class CtestRegistration(unittest.TestCase):
    """--no-tests=error: a checker that no ctest test registers must fail."""

    def setUp(self):
        self.build = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.build, True)
        true = f'"{sys.executable}" "-c" "pass"'
        (self.build / "CTestTestfile.cmake").write_text(f"add_test(exercise.01.1 {true})\n")
        self.log = str(self.build / "log")

    def test_a_registered_checker_that_passes_passes(self):
        self.assertEqual(checker.checker_ctest(self.build, "01.1", self.log), 0)

    def test_a_checker_that_is_not_registered_fails_with_ctests_status_8(self):
        self.assertEqual(checker.checker_ctest(self.build, "01.2", self.log), 8)


if __name__ == "__main__":
    unittest.main()


class AntiSolutions(unittest.TestCase):
    """verify-exercises: an anti-solution counts as failing only when a checker ran and failed."""

    def verdict_for(self, verdict):
        import tempfile
        import verify
        work = Path(tempfile.mkdtemp())
        wrong = work / "04.1.wrong-x.patch"
        wrong.write_text("# wrong: a mistake\n")
        e = exercises.parse_row("04.1\textend\tBatches\tf\n")
        checker = verify.Verifier(work, work, (), work)
        with mock.patch.object(verify, "apply", lambda *a, **k: True), \
                mock.patch.object(checker, "verdict", lambda *a, **k: verdict), \
                redirect_stdout(io.StringIO()) as said:
            bad = checker.anti_solution(e, wrong)
        return bad, said.getvalue()

    def test_a_checker_that_is_not_in_the_build_proves_nothing(self):
        bad, said = self.verdict_for("missing")
        self.assertEqual(bad, 1)
        self.assertIn("✗", said)

    def test_a_checker_that_fails_is_the_proof(self):
        self.assertEqual(self.verdict_for("fail")[0], 0)
        self.assertEqual(self.verdict_for("pass")[0], 1)
