"""A small tutorial tree in a temporary folder, with this driver copied in: one step with one
predict exercise, its hints and its chapter, in a git repository of its own. Commands run in
it as a learner runs them, through the driver's __main__, and build nothing."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

DRIVER = Path(__file__).resolve().parents[1]


class FakeTreeTest(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.work, True)
        self.tree = self.work / "tutorial"
        (self.tree / "01-one" / "exercises" / "hints").mkdir(parents=True)
        (self.tree / "docs").mkdir()
        shutil.copytree(DRIVER, self.tree / "driver", ignore=shutil.ignore_patterns("__pycache__"))
        self.write("01-one/exercises/exercises.tsv", "01.1\tpredict\tA first guess\t01-one/exercises/answer.h\n")
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER (-1)\n")
        self.write("01-one/exercises/hints/01.1.md", "The rule.\n---\nCloser.\n")
        self.write("docs/01-one.md", "# Chapter 1\n\n### 01.1 — A first guess (predict)\n\nWhy it matters: it does.\n")
        self.git("init", "-q")
        self.git("add", ".")
        self.git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qm", "tree")

    def write(self, name, text, tree=None):
        path = (tree or self.tree) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def read(self, name, tree=None):
        return ((tree or self.tree) / name).read_text(encoding="utf-8")

    def git(self, *args):
        subprocess.run(["git", "-C", str(self.tree)] + list(args), check=True, capture_output=True)

    def tutorial(self, *args, tree=None):
        """Runs ./tutorial ARGS in the tree; returns (status, stdout and stderr together)."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TUTORIAL_")}
        result = subprocess.run([sys.executable, str((tree or self.tree) / "driver")] + list(args),
                                cwd=tree or self.tree, capture_output=True, text=True, env=environment)
        return result.returncode, result.stdout + result.stderr

    def in_tree(self, code, tree=None):
        """Runs Python code with the tree's driver modules importable; returns its stdout."""
        program = f"import sys; sys.path.insert(0, 'driver')\n{code}"
        result = subprocess.run([sys.executable, "-c", program], cwd=tree or self.tree,
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout
