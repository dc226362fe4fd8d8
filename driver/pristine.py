"""The exercise files as handed out, which reset, check (for a prediction left as handed out)
and grade compare with. In a course copy (./tutorial course-copy) they are in .pristine/, with
MANIFEST.sha256 holding the hash of every file handed out; in the tutorial's own repository
they are git's HEAD."""
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from paths import ROOT

GIT = "git"
COURSE_COPY = "course copy"


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git(root, *args, **kwargs):
    return subprocess.run(["git", "-C", str(root)] + list(args), capture_output=True, **kwargs)


def source(root=ROOT):
    """GIT, COURSE_COPY or None: where the pristine files of this tree come from."""
    root = Path(root)
    if (root / ".pristine" / "MANIFEST.sha256").is_file():
        return COURSE_COPY
    top = git(root, "rev-parse", "--show-toplevel", text=True)
    # only this tree's own repository: a course copy inside another one has none
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == root.resolve() and \
            git(root, "rev-parse", "-q", "--verify", "HEAD").returncode == 0:
        return GIT
    return None


def source_words(kind):
    return "git's HEAD" if kind == GIT else "course copy's .pristine/"


def manifest(root=ROOT):
    """{path: hash} of a course copy's .pristine/MANIFEST.sha256."""
    entries = {}
    for line in (Path(root) / ".pristine" / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition(" ")
        entries[name[1:] if name[:1] in (" ", "*") else name] = digest
    return entries


def show(path, root=ROOT):
    """The pristine content of one file, or None when there is none, or when the course
    copy's file no longer matches its manifest (a pristine copy someone edited)."""
    kind = source(root)
    if kind == COURSE_COPY:
        kept = Path(root) / ".pristine" / path
        if not kept.is_file() or sha256_of(kept) != manifest(root).get(path):
            return None
        return kept.read_bytes()
    if kind == GIT:
        shown = git(root, "show", f"HEAD:{path}")
        return shown.stdout if shown.returncode == 0 else None
    return None


def unchanged(names, root=ROOT):
    """The names among these whose file is as handed out: by the manifest's hash in a course
    copy (which keeps every file's hash, not every file), by git's HEAD in the repository."""
    root = Path(root)
    kind = source(root)
    if kind == COURSE_COPY:
        hashes = manifest(root)
        return {n for n in names if (root / n).is_file() and hashes.get(n) == sha256_of(root / n)}
    if kind == GIT:
        return {n for n in names if (root / n).is_file() and show(n, root) == (root / n).read_bytes()}
    return set()


def files_untouched(files, root=ROOT):
    """True when every file is as handed out, False when one is not, None when there is
    nothing to compare with."""
    if source(root) is None:
        return None
    for name in files:
        current = Path(root) / name
        if not current.is_file() or show(name, root) != current.read_bytes():
            return False
    return True


def tracked_files(root=ROOT):
    """The files git lists in a tree, tracked or new but not ignored; in a tree that is no git
    repository (a course copy as handed out), every file but the build's, progress, grades and hand-ins."""
    listed = git(root, "ls-files", "-co", "--exclude-standard", "-z")
    if listed.returncode != 0:
        return all_files(root, leave_out=("build", ".git", ".progress", "grades", "handin"))
    return [name for name in listed.stdout.decode().split("\0") if name]


def sync_files(source_dir, dest, names):
    """Makes dest hold exactly the files named, taken from source_dir. Only the files whose
    content differs are copied: the others keep their times, so a build of dest stays
    incremental. dest's .git is left alone."""
    source_dir, dest = Path(source_dir), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for name in names:
        origin = source_dir / name
        if not origin.is_file():
            continue  # listed by git but deleted from the work tree
        wanted.add(name)
        target = dest / name
        if target.is_file() and target.read_bytes() == origin.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, target)  # a new time: the build must see it as changed
        shutil.copymode(origin, target)
    for folder, subfolders, files in os.walk(dest):
        if Path(folder) == dest and ".git" in subfolders:
            subfolders.remove(".git")
        for name in files:
            relative = (Path(folder) / name).relative_to(dest).as_posix()
            if relative not in wanted:
                (Path(folder) / name).unlink()


def all_files(folder, leave_out=()):
    """Every file under folder, relative, sorted; leave_out names top-level folders to skip."""
    folder = Path(folder)
    found = []
    for current, subfolders, files in os.walk(folder):
        if Path(current) == folder:
            subfolders[:] = [s for s in subfolders if s not in leave_out]
        found += [(Path(current) / f).relative_to(folder).as_posix() for f in files]
    return sorted(found)
