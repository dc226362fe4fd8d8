"""A grade as a teacher reads it: a row per student, named by the folder's path below the
folders given, points per exercise from the rubric, a total, the checker's own words on each
failure, and flags for a tree that looks tampered with or is not the course at all."""
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ui import out, refuse

# Points per exercise when the rubric does not name it: by how much an exercise asks.
DEFAULT_POINTS = {"predict": 2, "find the bug": 3, "extend": 5}


@dataclass
class Result:
    status: str  # "pass", "fail" or "not attempted"
    detail: str = ""


@dataclass
class Student:
    name: str
    folder: Path
    results: dict = field(default_factory=dict)      # exercise id -> Result
    flags: list = field(default_factory=list)
    predictions: dict = field(default_factory=dict)  # exercise id -> (UTC time, values)
    hints: dict = field(default_factory=dict)        # exercise id -> "N of M" stages seen, or ""


def names_for(folders):
    """Each folder's path below the folder that holds them all, so that two students of the
    same name in two sections stay two ("secA/alice", "secB/alice")."""
    folders = [Path(f).resolve() for f in folders]
    common = Path(os.path.commonpath([str(f.parent) for f in folders]))
    return [folder.relative_to(common).as_posix() for folder in folders]


def read_rubric(path, exercises, course_ids=None):
    """Points per exercise id of the exercises graded. A rubric file holds lines
    "NN.K <TAB or spaces> points"; '#' starts a comment. An exercise it leaves out gets its
    kind's default; one of the course that is not graded this time (TUTORIAL_STEPS), or of a
    step the tree does not have, is skipped; another id the course does not have is refused."""
    points = {e.id: DEFAULT_POINTS.get(e.kind, 1) for e in exercises}
    known = set(course_ids or points)
    if path is None or not Path(path).is_file():
        return points
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"(0[1-8]\.[0-9]+)\s+([0-9]+)", line)
        if match and match.group(1)[:2] not in {i[:2] for i in known}:
            continue  # a step this course copy does not have yet (course-copy --through)
        if not match or match.group(1) not in known:
            refuse(f"{path}:{number}: expected an exercise id of this course and its points, "
                   f"e.g. '04.1 5', not '{line}'")
        if match.group(1) in points:
            points[match.group(1)] = int(match.group(2))
    return points


def flags_for(student, reference, exercises):
    """What a teacher should look at before trusting a row: a tree that is not the course,
    checkers, tests or tables that differ from the clean copy (grade never uses them, but
    the student may have tried), and progress marks the checker does not bear out."""
    folder, flags = student.folder, []
    if not any(folder.glob("0[1-8]-*/exercises/exercises.tsv")):
        return ["not a tutorial tree: no NN-*/exercises/exercises.tsv in it"]
    own = {name for e in exercises for name in e.files}
    for theirs in sorted(folder.glob("0[1-8]-*/exercises/**/*")) + sorted(folder.glob("common/**/*")):
        name = theirs.relative_to(folder).as_posix()
        if not theirs.is_file() or name in own or "/hints/" in name:
            continue
        clean = reference / name
        if not clean.is_file() or clean.read_bytes() != theirs.read_bytes():
            kind = "exercise table" if name.endswith("exercises.tsv") else "checker or test file"
            flags.append(f"edited {kind}: {name}")
    for e in exercises:
        if (folder / ".progress" / f"{e.id}.done").is_file() and student.results[e.id].status != "pass":
            flags.append(f"progress marks {e.id} done, but its checker does not pass")
    return flags


def as_text(value):
    """A cell a spreadsheet keeps as text: a name that reads as a number (0012, 04.3) would
    lose its zeros or turn into 4.3."""
    cell = '"' + value.replace('"', '""') + '"'
    return f"={cell}" if re.fullmatch(r"[0-9.,+-]+", value) else cell


def write_csv(path, students, exercises, points):
    """One row per student: total, out of, flags, points per exercise, why each failure, first
    predictions, hint stages seen."""
    ids = [e.id for e in exercises]
    header = ["student", "total", "out of", "flags"] + [f"ex {i} ({points[i]} pts)" for i in ids] \
        + ["why not", "first predictions", "hints seen"]
    lines = [",".join(as_text(h) for h in header)]
    for s in students:
        earned = [points[i] if s.results[i].status == "pass" else 0 for i in ids]
        why = "; ".join(f"{i}: {s.results[i].status}{' - ' + s.results[i].detail if s.results[i].detail else ''}"
                        for i in ids if s.results[i].status != "pass")
        predicted = "; ".join(f"{i} at {t}: {v}" for i, (t, v) in s.predictions.items() if v)
        hinted = "; ".join(f"{i}: {seen}" for i, seen in s.hints.items() if seen)
        cells = [as_text(s.name), str(sum(earned)), str(sum(points.values())), as_text("; ".join(s.flags))]
        lines.append(",".join(cells + [str(p) for p in earned] + [as_text(why), as_text(predicted), as_text(hinted)]))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def print_table(students, exercises, points):
    """The table: a row per student, a column per exercise, the total, then flags and
    predictions."""
    ids = [e.id for e in exercises]
    width = max([7] + [len(s.name) for s in students])
    cell = {"fail": "FAIL", "not attempted": "-"}
    out()
    out(f"{'student':<{width}}  " + " ".join(f"{i:>5}" for i in ids) + "   total")
    for s in students:
        marks = [str(points[i]) if s.results[i].status == "pass" else cell[s.results[i].status] for i in ids]
        total = sum(points[i] for i in ids if s.results[i].status == "pass")
        flag = "  (flagged)" if s.flags else ""
        out(f"{s.name:<{width}}  " + " ".join(f"{m:>5}" for m in marks) + f"   {total}/{sum(points.values())}{flag}")
    out("(N: the checker passes on a clean copy, worth N points; FAIL: it fails, does not compile or"
        " runs out of time; -: not attempted)")
    for s in students:
        for flag in s.flags:
            out(f"flag: {s.name}: {flag}")
    predictions = [(s, i, t, v) for s in students for i, (t, v) in s.predictions.items() if v]
    if predictions:
        out("\nfirst predictions, as each student's .progress/ recorded them:")
        for s, i, t, v in predictions:
            out(f"  {s.name:<{width}}  {i}  {t}  {v}")
