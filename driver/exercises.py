"""The exercises of a tree and a learner's progress through them.

Each step lists its exercises in NN-name/exercises/exercises.tsv, one a line:
  NN.K <TAB> kind <TAB> title <TAB> files the learner edits (space-separated) [<TAB> needs]
needs (optional): "step-tests" where the exercise's text says that the step's own tests must
still pass; check and grade then run those tests too. The checker of NN.K is the ctest test
exercise.NN.K (target exercise_NN_K). Its hints are NN-name/exercises/hints/NN.K.md (stages
separated by a line ---). For teachers and CI, solutions/NN.K.patch is the reference solution
and solutions/NN.K.wrong-*.patch are anti-solutions: wrong on purpose, each must fail (its
first line: "# wrong: <mistake>").

Progress lives in .progress/, outside build/, so ./tutorial clean keeps it:
  NN.K.done        the checker passed
  NN.K.prediction  predict exercises: the first prediction checked, with its UTC time;
                   never overwritten, so a teacher sees what the learner thought first
  NN.K.hint        how many hint stages were shown
  NN.K.skipped     ./tutorial next --skip put it off: next offers it again once every other
                   exercise is done or skipped; passing its check clears the mark
"""
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from paths import EXERCISE_ID, ROOT, STEP, progress_dir, selected_steps
from ui import say, usage_error


@dataclass
class Exercise:
    id: str
    kind: str
    title: str
    files: list
    needs: list

    @property
    def step(self):
        return self.id.split(".")[0]

    @property
    def target(self):
        return "exercise_" + self.id.replace(".", "_")

    @property
    def is_capstone(self):
        return self.title.startswith("Capstone")

    @property
    def needs_step_tests(self):
        return "step-tests" in self.needs


def parse_row(line):
    fields = line.rstrip("\n").split("\t")
    fields += [""] * (5 - len(fields))
    return Exercise(fields[0], fields[1], fields[2], fields[3].split(), fields[4].split())


def all_exercises(root=ROOT):
    """Every exercise row of that tree, step by step."""
    rows = []
    for table in sorted(Path(root).glob("0[1-8]-*/exercises/exercises.tsv")):
        for line in table.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                rows.append(parse_row(line))
    return rows


def selected_exercises(root=ROOT):
    """The rows of the steps in this build: TUTORIAL_STEPS, when set, names some steps."""
    steps = selected_steps()
    return [e for e in all_exercises(root) if not steps or e.step in steps]


def find(exercise_id, root=ROOT):
    return next((e for e in all_exercises(root) if e.id == exercise_id), None)


def require(exercise_id):
    if not exercise_id or not EXERCISE_ID.fullmatch(exercise_id):
        usage_error("name an exercise as NN.K, e.g. 04.1 (./tutorial exercises lists them)")
    exercise = find(exercise_id)
    if exercise is None:
        usage_error(f"there is no exercise {exercise_id} (./tutorial exercises lists them)")
    return exercise


def chapter_section(exercise_id, root=ROOT):
    """The chapter's heading of an exercise as (docs/NN-name.md, line, heading), or None."""
    step = exercise_id.split(".")[0]
    heading = re.compile(r"^### " + re.escape(exercise_id) + r"( |$)")
    for chapter in sorted((Path(root) / "docs").glob(f"{step}-*.md")):
        for number, line in enumerate(chapter.read_text(encoding="utf-8").splitlines(), 1):
            if heading.match(line):
                return f"docs/{chapter.name}", number, line[4:]
    return None


def why_it_matters(exercise_id, root=ROOT):
    """The chapter's "Why it matters" paragraph of an exercise, printed on success."""
    section = chapter_section(exercise_id, root)
    if section is None:
        return []
    lines = (Path(root) / section[0]).read_text(encoding="utf-8").splitlines()[section[1] - 1:]
    paragraph, printing = [], False
    for number, line in enumerate(lines):
        if number > 0 and line.startswith("##"):
            break
        if line.startswith("Why it matters"):
            printing = True
        if printing and not line.strip():
            break
        if printing:
            paragraph.append(line)
    return paragraph


# ---- progress ----------------------------------------------------------------------------
def migrate_progress(root=ROOT):
    """Before .progress/, the marks were files build/exercises-passed/NN.K, which clean
    erased: they move once."""
    progress = progress_dir(root)
    progress.mkdir(parents=True, exist_ok=True)
    old = Path(root) / "build" / "exercises-passed"
    if not old.is_dir():
        return
    for mark in old.iterdir():
        if mark.is_file():
            (progress / f"{mark.name}.done").touch()
    shutil.rmtree(old)
    say("your progress marks moved from build/exercises-passed/ to .progress/ (clean keeps them)")


def mark(exercise_id, kind, root=ROOT):
    return progress_dir(root) / f"{exercise_id}.{kind}"


def is_done(exercise_id, root=ROOT):
    return mark(exercise_id, "done", root).is_file()


def is_skipped(exercise_id, root=ROOT):
    return mark(exercise_id, "skipped", root).is_file()


def set_mark(exercise_id, kind, present, root=ROOT):
    path = mark(exercise_id, kind, root)
    if present:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif path.exists():
        path.unlink()


def course_order(exercises):
    """The order next offers them in, the teaching page's: step by step, and within a step the
    short exercises (predict, find the bug) before the long ones (extend); the capstone (its
    title says "Capstone"), the course's final project, last of all."""
    return sorted(exercises, key=lambda e: (e.is_capstone, e.step, e.kind == "extend", e.id))


def first_not_done(root=ROOT):
    """The exercise next offers: the first neither done nor skipped, in the course's order,
    else the first skipped."""
    skipped = None
    for exercise in course_order(all_exercises(root)):
        if is_done(exercise.id, root):
            continue
        if not is_skipped(exercise.id, root):
            return exercise
        skipped = skipped or exercise
    return skipped


# ---- hints -------------------------------------------------------------------------------
def hint_file(exercise_id, root=ROOT):
    step = exercise_id.split(".")[0]
    found = sorted(Path(root).glob(f"{step}-*/exercises/hints/{exercise_id}.md"))
    return found[0] if found else None


def hint_stages(path):
    """The stages of a hints file (separated by lines ---), without blank lines at either end."""
    stages = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.fullmatch(r"---\s*", line):
            stages.append([])
        else:
            stages[-1].append(line)
    trimmed = []
    for stage in stages:
        while stage and not stage[0].strip():
            stage.pop(0)
        while stage and not stage[-1].strip():
            stage.pop()
        trimmed.append(stage)
    return trimmed


def is_step(text):
    return bool(STEP.fullmatch(text))
