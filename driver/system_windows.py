"""Windows: the steps are built with Visual Studio's compiler (or MinGW-w64 from MSYS2, with
TUTORIAL_WINDOWS_COMPILER=mingw), and every program runs directly. Nothing is installed: what
is missing is named, with where to get it."""
import shutil

from paths import env
from ui import die

NAME = "Windows"
UNDER = ""
CORE_PACKAGES = [("cmake", "CMake 3.25 or newer (Visual Studio's 'C++ CMake tools' has it)"),
                 ("ninja", "Ninja (Visual Studio's 'C++ CMake tools' has it)")]
PORTABILITY_PACKAGES = []
WATCH_PACKAGES = []
MSVC_MODE_PACKAGES = []
DOCS_PACKAGES = []


def compiler():
    return "gcc" if env("TUTORIAL_WINDOWS_COMPILER") == "mingw" else "cl"


def install(packages):
    missing = [(name, why) for name, why in packages if shutil.which(name) is None]
    if missing:
        die("missing: " + "; ".join(f"{name} ({why})" for name, why in missing)
            + ". Run from a Developer Command Prompt for Visual Studio, or install them.")


def setup():
    """Checks the tools are there. cmocka comes through CMake's own download
    (cmake/Cmocka.cmake), or from the release file TUTORIAL_CMOCKA_ARCHIVE names (offline)."""
    install(CORE_PACKAGES)
    if shutil.which(compiler()) is None:
        if compiler() == "cl":
            die("cl (Visual Studio's C compiler) is not on PATH: run from a Developer Command "
                "Prompt, or set TUTORIAL_WINDOWS_COMPILER=mingw to build with MSYS2's gcc")
        die("gcc is not on PATH: install MSYS2's mingw-w64-x86_64-gcc, or unset TUTORIAL_WINDOWS_COMPILER")
    archive = env("TUTORIAL_CMOCKA_ARCHIVE")
    return [f"-DTUTORIAL_CMOCKA_ARCHIVE={archive}"] if archive else []


def configure_command(source, build, cmocka, steps):
    command = ["cmake", "-S", str(source), "-B", str(build), "-G", "Ninja",
               "-DCMAKE_BUILD_TYPE=Debug", f"-DCMAKE_C_COMPILER={compiler()}"]
    if compiler() == "gcc":
        command.append("-DCMAKE_EXE_LINKER_FLAGS=-static")
    return command + cmocka + [f"-DTUTORIAL_STEPS={steps}"]


def program_command(build, program, args):
    return [str(build / "bin" / f"{program}.exe")] + list(args)


def start_shared_runner(build):
    return []


def stop_shared_runner(build):
    pass


def before_clean(build):
    pass


def change_waiter():
    return None
