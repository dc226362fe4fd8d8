"""Linux (Debian 12, Ubuntu 24.04 or newer): what is missing comes through apt, the steps are
cross-compiled with mingw-w64, and every Windows program runs under Wine."""
import glob
import hashlib
import os
import shutil
import subprocess
import sys

from paths import DOWNLOADS, WINE_RUN
from ui import die, say

NAME = "Linux"
UNDER = " under Wine"  # said after "running PROGRAM" and "testing"
CMOCKA_VERSION = "1.1.5"
CMOCKA_SHA256 = "f0ccd8242d55e2fd74b16ba518359151f6f8383ff8aef4976e48393f77bba8b6"

# (package, why), for the build and the tests
CORE_PACKAGES = [
    ("cmake", "the build system (3.25 or newer)"),
    ("ninja-build", "runs the build steps in parallel"),
    ("gcc-mingw-w64-x86-64", "compiles the Windows programs on Linux"),
    ("g++-mingw-w64-x86-64", "compiles step 07's C++ sketch of the fix"),
    ("wine64", "runs the Windows programs and tests on Linux"),
    ("python3", "checks that the code quoted in docs/ matches the source"),
    ("dpkg-dev", "lets apt-get fetch cmocka's release from Debian's source archive"),
    ("xz-utils", "unpacks the cmocka release"),
    ("ca-certificates", "lets CMake download cmocka where the official site can be reached"),
    ("gnuplot-nox", "draws the demo's chart"),
]
PORTABILITY_PACKAGES = [("clang", "a second compiler for the mingw target, to catch GCC-only code")]
WATCH_PACKAGES = [("inotify-tools", "lets ./tutorial watch wait for a save instead of looking every second")]
MSVC_MODE_PACKAGES = [
    ("clang-19", "clang-cl, clang with Visual C++'s command line, for the MSVC-mode check"),
    ("lld-19", "lld-link, a linker with Microsoft's command line"),
    ("llvm-19", "llvm-lib, llvm-mt and llvm-rc, for Visual Studio's lib, mt and rc"),
    ("libwine-dev", "Wine's Windows SDK headers and import libraries"),
]
DOCS_PACKAGES = [("python3", "rewrites the code quoted in docs/ from the source")]

_apt_updated = False


def as_root(command):
    return command if os.geteuid() == 0 else ["sudo"] + command


def installed(package):
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                            capture_output=True, text=True)
    return "install ok installed" in result.stdout


def apt_update_once():
    global _apt_updated
    if not _apt_updated:
        subprocess.run(as_root(["apt-get", "update", "-q"]), stdout=subprocess.DEVNULL, check=True)
        _apt_updated = True


def install(packages):
    missing = [(name, why) for name, why in packages if not installed(name)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        die("this script installs with apt-get (Debian/Ubuntu); install these yourself: "
            + " ".join(name for name, _ in missing))
    say("installing what is missing:")
    for name, why in missing:
        print(f"    {name:<22} {why}", file=sys.stderr)
    apt_update_once()
    # --no-install-recommends: Wine's recommends pull in 32-bit and desktop parts.
    subprocess.run(as_root(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
                            "-q", "--no-install-recommends"] + [name for name, _ in missing]),
                   stdout=subprocess.DEVNULL, check=True)


def check_cmake_version():
    first = subprocess.run(["cmake", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    version = first.split()[2] if len(first.split()) > 2 else "0"
    if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) < (3, 25):
        die(f"CMake {version} is too old: the presets need 3.25 (Debian 12 and Ubuntu 24.04 have it)")


def _has_deb_src():
    files = ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*")
    for name in files:
        try:
            text = open(name, encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("deb-src") or (line.startswith("Types:") and "deb-src" in line):
                return True
    return False


def enable_deb_src():
    """Adds a deb-src entry beside the first enabled deb entry, when there is none."""
    global _apt_updated
    if _has_deb_src():
        return
    say("adding a deb-src entry for the archive already configured (to fetch cmocka's source)")
    for name in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        stanza = open(name, encoding="utf-8").read().split("\n\n")[0]
        if any(l.startswith("Types:") and " deb" in f" {l[6:]} " for l in stanza.splitlines()):
            lines = ["Types: deb-src" if l.startswith("Types:") else l for l in stanza.splitlines()]
            _write_root("/etc/apt/sources.list.d/tutorial-deb-src.sources", "\n".join(lines) + "\n\n")
            break
    else:
        debs = [l for l in open("/etc/apt/sources.list", encoding="utf-8").read().splitlines()
                if l.startswith("deb ")]
        _write_root("/etc/apt/sources.list.d/tutorial-deb-src.list", "deb-src " + debs[0][4:] + "\n")
    _apt_updated = False
    apt_update_once()


def _write_root(path, text):
    subprocess.run(as_root(["tee", path]), input=text, text=True, stdout=subprocess.DEVNULL, check=True)


def cmocka_archive():
    """cmocka's release file, from Debian's source package (its .orig.tar.xz is the release)."""
    found = sorted(glob.glob(str(DOWNLOADS / "cmocka_*.orig.tar.*")))
    if found:
        return found[0]
    enable_deb_src()
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    say("fetching cmocka's release through Debian's source package 'cmocka'")
    fetch = ["apt-get", "source", "--download-only", "-q", "cmocka"]
    if subprocess.run(fetch, cwd=DOWNLOADS, capture_output=True).returncode != 0:
        apt_update_once()
        if subprocess.run(fetch, cwd=DOWNLOADS, stdout=subprocess.DEVNULL).returncode != 0:
            die("could not fetch the source package cmocka")
    return sorted(glob.glob(str(DOWNLOADS / "cmocka_*.orig.tar.*")))[0]


def setup():
    """Installs what is missing; returns the CMake settings that name cmocka's release."""
    install(CORE_PACKAGES)
    check_cmake_version()
    archive = cmocka_archive()
    digest = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    # The pinned hash is the official release's; another distribution's version is
    # verified by apt against its archive's signed index instead.
    if digest != CMOCKA_SHA256:
        say(f"cmocka from this distribution is not {CMOCKA_VERSION}; using it (apt verified it)")
    return [f"-DTUTORIAL_CMOCKA_ARCHIVE={archive}", f"-DTUTORIAL_CMOCKA_SHA256={digest}"]


def configure_command(source, build, cmocka, steps):
    return ["cmake", "-S", str(source), "-B", str(build), "-G", "Ninja",
            f"-DCMAKE_TOOLCHAIN_FILE={source}/cmake/toolchains/mingw-w64-x86_64.cmake",
            "-DCMAKE_BUILD_TYPE=Debug"] + cmocka + [f"-DTUTORIAL_STEPS={steps}"]


def program_command(build, program, args):
    return [str(WINE_RUN), "--prefix", str(build / "wineprefix"),
            str(build / "bin" / f"{program}.exe")] + list(args)


def start_shared_runner(build):
    """One Wine server for many ctest runs; returns ctest's arguments that leave out the
    fixture tests which would start and stop one each time."""
    subprocess.run([str(WINE_RUN), "--prefix", str(build / "wineprefix"), "--start"], check=True)
    return ["-FA", "^wine$"]


def stop_shared_runner(build):
    subprocess.run([str(WINE_RUN), "--prefix", str(build / "wineprefix"), "--stop"])


def before_clean(build):
    if (build / "wineprefix").is_dir():
        stop_shared_runner(build)


def change_waiter():
    """inotifywait where it is (installed on first use), else None: look every second."""
    if shutil.which("inotifywait") is None:
        try:
            install(WATCH_PACKAGES)
        except Exception:  # noqa: BLE001 - watching works without it, only slower
            pass
    return shutil.which("inotifywait")
