"""The learner's commands in a fake tree: refusals with status 2, hints one stage at a time,
next and its skip, progress marks, and the first prediction recorded once."""
from fake_tree import FakeTreeTest


class Refusals(FakeTreeTest):
    def test_a_command_given_wrongly_is_refused_with_status_2(self):
        for args in (["check"], ["check", "99.1"], ["check", "01.9"], ["check", "1.1"],
                     ["hint", "01.9"], ["reset", "01.2"], ["watch", "07.7"], ["grade"],
                     ["grade", str(self.work / "nobody")], ["course-copy", str(self.tree / "docs")],
                     ["next", "--later"], ["bogus"], ["build", "extra"]):
            with self.subTest(args=args):
                status, output = self.tutorial(*args)
                self.assertEqual(status, 2, output)
                self.assertIn("tutorial: ", output)


class Hints(FakeTreeTest):
    def test_hints_come_one_stage_at_a_time_then_the_last_again(self):
        status, output = self.tutorial("hint", "01.1")
        self.assertEqual(status, 0)
        self.assertIn("Hint 1 of 2", output)
        self.assertIn("The rule.", output)
        self.assertNotIn("Closer.", output)
        self.assertIn("Closer.", self.tutorial("hint", "01.1")[1])
        status, output = self.tutorial("hint", "01.1")
        self.assertIn("No more hints", output)
        self.assertIn("Closer.", output)

    def test_a_stage_already_seen_can_be_shown_again_and_no_later_one(self):
        self.tutorial("hint", "01.1")
        status, output = self.tutorial("hint", "01.1", "1")
        self.assertEqual(status, 0)
        self.assertIn("Hint 1 of 2 for 01.1, again", output)
        self.assertIn("The rule.", output)
        status, output = self.tutorial("hint", "01.1", "2")
        self.assertEqual(status, 2)
        self.assertNotIn("Closer.", output)

    def test_an_exercise_without_hints_says_so_with_status_1(self):
        self.write("08-eight/exercises/exercises.tsv", "08.1\tfind the bug\tA later step\t08-eight/exercises/bug.c\n")
        status, output = self.tutorial("hint", "08.1")
        self.assertEqual(status, 1)
        self.assertIn("has no hints yet", output)


class Next(FakeTreeTest):
    def test_next_names_the_chapter_section_and_the_files(self):
        status, output = self.tutorial("next")
        self.assertEqual(status, 0)
        self.assertIn('read: docs/01-one.md:3, "01.1 — A first guess (predict)"', output)
        self.assertIn("edit: 01-one/exercises/answer.h", output)

    def test_a_skipped_exercise_comes_after_the_others_and_is_marked(self):
        self.write("08-eight/exercises/exercises.tsv", "08.1\tfind the bug\tA later step\t08-eight/exercises/bug.c\n")
        status, output = self.tutorial("next", "--skip")
        self.assertEqual(status, 0)
        self.assertIn("skipped 01.1", output)
        self.assertIn("next: 08.1", output)
        self.assertIn("»  01.1", self.tutorial("exercises")[1])
        (self.tree / ".progress" / "08.1.done").touch()
        output = self.tutorial("next")[1]
        self.assertIn("next: 01.1", output)
        self.assertIn("you skipped it earlier", output)

    def test_with_everything_done_next_says_so(self):
        (self.tree / ".progress").mkdir()
        (self.tree / ".progress" / "01.1.done").touch()
        self.assertIn("Every exercise is done", self.tutorial("next")[1])
        self.assertIn("nothing to skip", self.tutorial("next", "--skip")[1])


class Progress(FakeTreeTest):
    def test_old_progress_marks_move_to_progress_and_clean_keeps_them(self):
        (self.tree / "build" / "exercises-passed").mkdir(parents=True)
        (self.tree / "build" / "exercises-passed" / "01.1").touch()
        status, output = self.tutorial("exercises")
        self.assertEqual(status, 0)
        self.assertIn("✓  01.1", output)
        self.assertTrue((self.tree / ".progress" / "01.1.done").is_file())
        self.assertFalse((self.tree / "build" / "exercises-passed").exists())
        self.assertEqual(self.tutorial("clean")[0], 0)
        self.assertTrue((self.tree / ".progress" / "01.1.done").is_file())
        self.assertFalse((self.tree / "build").exists())

    def test_exercises_of_a_later_step_are_listed(self):
        self.write("08-eight/exercises/exercises.tsv", "08.1\tfind the bug\tA later step\t08-eight/exercises/bug.c\n")
        output = self.tutorial("exercises")[1]
        self.assertIn("·  08.1", output)
        self.assertIn("0 of 2 done", output)


class FirstPrediction(FakeTreeTest):
    RECORD = "import learner, exercises\nprint(learner.record_first_prediction(exercises.find('01.1')))"

    def test_a_prediction_left_as_handed_out_is_no_prediction(self):
        output = self.in_tree(self.RECORD)
        self.assertIn("write your prediction in 01-one/exercises/answer.h first", output)
        self.assertTrue(output.strip().endswith("False"))
        self.assertFalse((self.tree / ".progress" / "01.1.prediction").exists())

    def test_the_first_prediction_is_recorded_once_and_never_overwritten(self):
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER 42\n")
        self.assertIn("is recorded in .progress/01.1.prediction", self.in_tree(self.RECORD))
        first = self.read(".progress/01.1.prediction")
        self.assertIn("#define PREDICTED_ANSWER 42", first)
        self.assertRegex(first, r"recorded: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER 7\n")
        self.assertIn("stays recorded", self.in_tree(self.RECORD))
        self.assertEqual(self.read(".progress/01.1.prediction"), first)
