"""The learner's commands: exercises, next, check, hint, reset and watch."""
import datetime
import subprocess
import sys
import time
from pathlib import Path

import exercises as ex
import pristine
import system
from build import cmd_build
from checker import exercise_passes
from paths import ROOT, build_dir
from ui import Stop, out, refuse, say, usage_error


def cmd_exercises():
    ex.migrate_progress()
    rows = ex.all_exercises()
    out(f"   {'id':<6} {'kind':<13} title")
    done = 0
    for e in rows:
        sign = "·"
        if ex.is_done(e.id):
            sign, done = "✓", done + 1
        elif ex.is_skipped(e.id):
            sign = "»"
        out(f"{sign}  {e.id:<6} {e.kind:<13} {e.title}")
        out(f"   {'':<6} {'':<13} edit: {' '.join(e.files)}")
    out()
    out(f"{done} of {len(rows)} done (✓ done, » skipped for now). ./tutorial next says which to do")
    out("next and where to read; ./tutorial check NN.K checks your work, ./tutorial hint NN.K gives")
    out("a hint, one stage at a time, and ./tutorial reset NN.K starts the exercise over.")


def cmd_next(args):
    ex.migrate_progress()
    if args and args != ["--skip"]:
        if args[0] == "--skip":
            usage_error("next --skip takes nothing more")
        usage_error(f"next takes nothing or --skip (put off the exercise it shows), not '{args[0]}'")
    if args:
        skipped = ex.first_not_done()
        if skipped is None:
            out("Every exercise is done: there is nothing to skip.")
            return
        ex.set_mark(skipped.id, "skipped", True)
        out(f"skipped {skipped.id} for now: ./tutorial next offers it again once the others are done or")
        out(f"skipped, and ./tutorial check {skipped.id} still checks it whenever you like.")
        out()
    e = ex.first_not_done()
    if e is None:
        out("Every exercise is done. Well done.")
        return
    section = ex.chapter_section(e.id)
    where = (f'{section[0]}:{section[1]}, "{section[2]}"' if section
             else f"the Exercises section of step {e.step}'s chapter in docs/")
    out(f"next: {e.id} ({e.kind}) {e.title}")
    if ex.is_skipped(e.id):
        out("      (you skipped it earlier; every other exercise is done or skipped)")
    out(f"read: {where}")
    out(f"edit: {' '.join(e.files)}")
    out(f"then: ./tutorial check {e.id} (or ./tutorial watch {e.id}); stuck? ./tutorial hint {e.id};")
    out("      not now? ./tutorial next --skip")


def record_first_prediction(e):
    """Predict exercises: the first prediction checked is kept, with its time, before the
    checker can show the measured answer. A prediction file still as handed out is no
    prediction: the checker does not run then (it would show the answer)."""
    if pristine.files_untouched(e.files) is True:
        out(f"✗ {e.id}: write your prediction in {' '.join(e.files)} first. The checker shows what it")
        out("  measured, right or wrong, so your first prediction is recorded before it runs.")
        return False
    record = ex.mark(e.id, "prediction")
    if record.is_file():
        recorded = next((l[len("recorded: "):] for l in record.read_text(encoding="utf-8").splitlines()
                         if l.startswith("recorded: ")), "")
        out(f"(your first prediction stays recorded: {recorded})")
        return True
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = [f"# The first prediction checked for exercise {e.id}, kept by ./tutorial check.",
            f"recorded: {now}"]
    for name in e.files:
        text.append(f"==> {name} <==")
        text.append((ROOT / name).read_text(encoding="utf-8").rstrip("\n"))
    record.parent.mkdir(parents=True, exist_ok=True)
    fresh = record.with_suffix(".prediction.new")
    fresh.write_text("\n".join(text) + "\n", encoding="utf-8")
    fresh.replace(record)
    out(f"(your first prediction is recorded in .progress/{e.id}.prediction)")
    return True


def cmd_check(args):
    e = ex.require(args[0] if args else "")
    ex.migrate_progress()
    cmd_build()
    say(f"checking exercise {e.id}: {e.title}")
    if e.kind == "predict" and not record_first_prediction(e):
        raise Stop(1)
    if not exercise_passes(build_dir(), e):
        ex.set_mark(e.id, "done", False)
        raise Stop(1)
    ex.set_mark(e.id, "done", True)
    ex.set_mark(e.id, "skipped", False)
    if e.needs_step_tests:
        out(f"✓ {e.id} passes, and step {e.step}'s own tests still pass.")
    else:
        out(f"✓ {e.id} passes.")
    for line in ex.why_it_matters(e.id):
        out(line)
    out("Next: ./tutorial next")


def cmd_hint(args):
    e = ex.require(args[0] if args else "")
    if len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
        usage_error("hint takes an exercise and, to see an earlier stage again, its number: hint 04.1 2")
    ex.migrate_progress()
    path = ex.hint_file(e.id)
    if path is None:
        raise Stop(1, f"tutorial: exercise {e.id} has no hints yet ({e.step}-*/exercises/hints/{e.id}.md)")
    stages = ex.hint_stages(path)
    record = ex.mark(e.id, "hint")
    shown = int(record.read_text().strip() or 0) if record.is_file() else 0
    if len(args) == 2:
        show_stage_again(e, stages, shown, int(args[1]))
        return
    if shown >= len(stages):
        out(f"No more hints for {e.id}: you have seen all {len(stages)} stages. The last one again:")
        out()
        for line in stages[-1]:
            out(line)
        return
    shown += 1
    record.write_text(f"{shown}\n")
    out(f"Hint {shown} of {len(stages)} for {e.id}:")
    out()
    for line in stages[shown - 1]:
        out(line)
    out()
    out(f"(./tutorial hint {e.id} again for the next stage)" if shown < len(stages)
        else "(that was the last stage)")


def show_stage_again(e, stages, shown, stage):
    """A stage already seen, again; a stage not reached yet is refused (hint gives them in
    order, one at a time)."""
    if not 1 <= stage <= shown:
        usage_error(f"you have seen {shown} of the {len(stages)} hints for {e.id}: ask for one of "
                    f"1 to {shown}, or ./tutorial hint {e.id} for the next")
    out(f"Hint {stage} of {len(stages)} for {e.id}, again:")
    out()
    for line in stages[stage - 1]:
        out(line)


def back_up(e):
    """The learner's files as they are, kept in .progress/backups/ before reset overwrites
    them; returns the folder."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = ex.mark(e.id, "hint").parent / "backups" / f"{e.id}-{stamp}"
    for name in e.files:
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes((ROOT / name).read_bytes())
    return folder


def cmd_reset(args):
    e = ex.require(args[0] if args else "")
    ex.migrate_progress()
    kind = pristine.source()
    if kind is None:
        refuse(f"cannot reset {e.id}: this tree has neither its git history nor a pristine copy "
               "(.pristine/, which ./tutorial course-copy makes); nothing was changed")
    contents = {}
    for name in e.files:  # every file first: reset restores all of them or none
        contents[name] = pristine.show(name)
        if contents[name] is None:
            refuse(f"cannot reset {e.id}: {name} is not in the {pristine.source_words(kind)}, or no "
                   "longer matches its manifest; nothing was changed")
    backup = back_up(e)
    for name, content in contents.items():
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_bytes(content)
    ex.set_mark(e.id, "done", False)
    say(f"restored {' '.join(e.files)} (from the {pristine.source_words(kind)})")
    out(f"Your version is kept in {backup.relative_to(ROOT).as_posix()}/.")
    warn_changed_checkers(e, kind)
    if ex.mark(e.id, "prediction").is_file():
        out(f"Your first prediction stays recorded in .progress/{e.id}.prediction.")


def warn_changed_checkers(e, kind):
    """reset restores only the files the exercise lists. An edited checker or test in the same
    exercises/ folder is named (not restored: in the tutorial's own repository it may be work
    in progress); grade never uses it."""
    folders = sorted(ROOT.glob(f"{e.step}-*/exercises"))
    if not folders:
        return
    folder = folders[0].relative_to(ROOT).as_posix()
    if kind == pristine.GIT:
        listed = pristine.git(ROOT, "diff", "--name-only", "HEAD", "--", folder, text=True).stdout.split()
    else:
        listed = [name for name, digest in pristine.manifest().items()
                  if name.startswith(folder + "/") and
                  (not (ROOT / name).is_file() or pristine.sha256_of(ROOT / name) != digest)]
    own = {name for other in ex.all_exercises() if other.step == e.step for name in other.files}
    changed = [name for name in listed if name not in own]
    if changed:
        out(f"Note: these files of {folder} differ from the pristine copy and were left as they are "
            f"(./tutorial grade uses its own): {' '.join(changed)}")


def signature(files):
    """The state of some files: it changes when one of them is saved."""
    state = []
    for name in files:
        try:
            info = (ROOT / name).stat()
            state.append((name, info.st_mtime_ns, info.st_size))
        except OSError as error:
            state.append((name, str(error)))
    return state


def wait_for_change(files, waiter):
    """Waits until one of the files changes: with inotifywait where there is one (waiter),
    else a look every second. Editors save by renaming a new file over the old one: it
    watches the folders."""
    before = signature(files)
    folders = sorted({str((ROOT / name).parent) for name in files})
    while signature(files) == before:
        if waiter:
            subprocess.run([waiter, "-qq", "-t", "30", "-e", "close_write,moved_to,create,delete"]
                           + folders)
        else:
            time.sleep(1)
    time.sleep(0.3)  # let the editor finish writing


def cmd_watch(args):
    follow = not args
    if follow:  # no exercise named: the next one not done, then the one after it
        ex.migrate_progress()
        e = ex.first_not_done()
        if e is None:
            out("Every exercise is done.")
            return
    else:
        e = ex.require(args[0])
    waiter = system.change_waiter()
    if waiter is None and system.WATCH_PACKAGES:
        say("inotifywait is not installed: looking at the files every second instead")
    run = 0
    while True:
        run += 1
        out(f"\n\033[1m──── run {run} at {time.strftime('%H:%M:%S')}: ./tutorial check {e.id}\033[0m")
        checked = signature(e.files)
        passed = subprocess.run([sys.executable, str(Path(__file__).parent), "check", e.id]).returncode == 0
        if signature(e.files) != checked:  # saved again while it was checked: that verdict is stale
            out(f"\033[1m──── run {run}: {' '.join(e.files)} changed during the check; checking again\033[0m")
            continue
        if passed:
            out(f"\033[1m──── run {run}: {e.id} passes\033[0m")
            if follow:
                e = ex.first_not_done()
                if e is None:
                    out("Every exercise is done.")
                    return
                out(f"next: {e.id}, {e.title}")
        else:
            out(f"\033[1m──── run {run}: {e.id} not done yet\033[0m")
        out(f"waiting for a change to {' '.join(e.files)} (Ctrl-C stops)")
        wait_for_change(e.files, waiter)

