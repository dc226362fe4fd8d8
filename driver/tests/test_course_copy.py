"""The course copy and reset from it: no .git, no solutions/, the exercise files kept in
.pristine/ under a manifest that reset checks."""
from fake_tree import FakeTreeTest


class CourseCopy(FakeTreeTest):
    def setUp(self):
        super().setUp()
        self.write("solutions/01.1.patch", "the reference\n")
        self.write(".gitignore", "/build/\n/.progress/\n")
        self.git("add", ".")
        self.git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qm", "solutions")
        status, output = self.tutorial("course-copy", str(self.work / "course"))
        self.assertEqual(status, 0, output)
        self.course = self.work / "course"

    def test_the_copy_has_no_git_no_solutions_and_a_pristine_copy(self):
        self.assertFalse((self.course / ".git").exists())
        self.assertFalse((self.course / "solutions").exists())
        self.assertTrue((self.course / ".pristine" / "01-one" / "exercises" / "answer.h").is_file())
        manifest = self.read(".pristine/MANIFEST.sha256", tree=self.course)
        self.assertIn("  01-one/exercises/answer.h\n", manifest)
        self.assertNotIn(".pristine/", manifest)

    def test_the_copy_keeps_progress_in_git_for_a_git_hand_in(self):
        ignored = self.read(".gitignore", tree=self.course)
        self.assertIn("/build/", ignored)
        self.assertNotIn("/.progress/", ignored)

    def test_reset_restores_the_file_from_the_pristine_copy(self):
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER 42\n", tree=self.course)
        status, output = self.tutorial("reset", "01.1", tree=self.course)
        self.assertEqual(status, 0, output)
        self.assertIn("(-1)", self.read("01-one/exercises/answer.h", tree=self.course))

    def test_reset_refuses_a_pristine_copy_that_no_longer_matches_its_manifest(self):
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER 42\n", tree=self.course)
        self.write(".pristine/01-one/exercises/answer.h", "/* edited */\n", tree=self.course)
        status, _ = self.tutorial("reset", "01.1", tree=self.course)
        self.assertEqual(status, 2)
        self.assertIn("42", self.read("01-one/exercises/answer.h", tree=self.course))

    def test_reset_with_neither_git_nor_a_pristine_copy_says_why(self):
        import shutil
        shutil.rmtree(self.course / ".pristine")
        status, output = self.tutorial("reset", "01.1", tree=self.course)
        self.assertEqual(status, 2)
        self.assertIn("neither its git history nor a pristine copy", output)

    def test_reset_in_the_repository_restores_from_git_and_keeps_a_backup(self):
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER 42\n")
        status, output = self.tutorial("reset", "01.1")
        self.assertEqual(status, 0, output)
        self.assertIn("(-1)", self.read("01-one/exercises/answer.h"))
        self.assertIn("git's HEAD", output)
        backups = list((self.tree / ".progress" / "backups").glob("01.1-*/01-one/exercises/answer.h"))
        self.assertEqual(len(backups), 1)
        self.assertIn("42", backups[0].read_text())


class CourseCopyThroughAStep(FakeTreeTest):
    def test_the_steps_after_through_are_left_out_with_the_pages_that_quote_them(self):
        self.write("02-two/exercises/exercises.tsv", "02.1\tfind the bug\tThe fix\t02-two/exercises/bug.c\n")
        self.write("02-two/exercises/bug.c", "int bug;\n")
        self.write("docs/02-two.md", "# Chapter 2\n")
        self.write("README.md", "# The tutorial\n\nRead [chapter 2](docs/02-two.md).\n")
        self.write("docs/guide.md", "<!-- snippet: 02-two/exercises/bug.c#all -->\n")
        self.write("docs/primer.md", "<!-- snippet: 01-one/exercises/answer.h#all -->\n")
        self.git("add", ".")
        self.git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qm", "two")
        course = self.work / "course"
        status, output = self.tutorial("course-copy", "--through", "01", str(course))
        self.assertEqual(status, 0, output)
        self.assertIn("steps 01 to 01 only", output)
        self.assertTrue((course / "01-one" / "exercises" / "answer.h").is_file())
        for left_out in ("02-two", "docs/02-two.md", "docs/guide.md"):
            self.assertFalse((course / left_out).exists(), left_out)
        self.assertTrue((course / "docs" / "primer.md").is_file())
        self.assertIn("has steps 01 to 01", self.read("README.md", tree=course))
        self.assertNotIn("02-two", self.read(".pristine/MANIFEST.sha256", tree=course))
        self.assertIn("01.1", self.tutorial("exercises", tree=course)[1])
        self.assertNotIn("02.1", self.tutorial("exercises", tree=course)[1])

    def test_a_bad_through_is_refused_with_status_2(self):
        for args in (["--through", "9"], ["--through"], ["--through", "1", "x"]):
            with self.subTest(args=args):
                status, output = self.tutorial("course-copy", *args, str(self.work / "c"))
                self.assertEqual(status, 2, output)
