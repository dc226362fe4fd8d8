"""The platform layer: the commands each system runs, tested on either system."""
import sys
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import system_linux  # noqa: E402
import system_windows  # noqa: E402

BUILD = Path("/b")


class BothSystems(unittest.TestCase):
    def test_both_offer_the_same_names(self):
        names = ["NAME", "UNDER", "CORE_PACKAGES", "PORTABILITY_PACKAGES", "WATCH_PACKAGES",
                 "MSVC_MODE_PACKAGES", "DOCS_PACKAGES", "install", "setup", "configure_command",
                 "program_command", "start_shared_runner", "stop_shared_runner", "before_clean",
                 "change_waiter"]
        for module in (system_linux, system_windows):
            for name in names:
                with self.subTest(module=module.__name__, name=name):
                    self.assertTrue(hasattr(module, name))


class Linux(unittest.TestCase):
    def test_programs_run_under_wine_with_the_builds_own_prefix(self):
        command = system_linux.program_command(BUILD, "step04-server", ["--port", "0"])
        self.assertTrue(command[0].endswith("cmake/wine-run"))
        self.assertEqual(command[1:], ["--prefix", "/b/wineprefix", "/b/bin/step04-server.exe", "--port", "0"])

    def test_the_build_is_a_mingw_cross_build_with_cmocka_from_debian(self):
        command = system_linux.configure_command(Path("/src"), BUILD, ["-DTUTORIAL_CMOCKA_ARCHIVE=a"], "04")
        self.assertIn("-DCMAKE_TOOLCHAIN_FILE=/src/cmake/toolchains/mingw-w64-x86_64.cmake", command)
        self.assertIn("-DTUTORIAL_CMOCKA_ARCHIVE=a", command)
        self.assertEqual(command[-1], "-DTUTORIAL_STEPS=04")

    def test_the_shared_wine_server_leaves_out_the_fixture_tests(self):
        with mock.patch("subprocess.run") as run:
            self.assertEqual(system_linux.start_shared_runner(BUILD), ["-FA", "^wine$"])
        self.assertEqual(run.call_args[0][0][1:], ["--prefix", "/b/wineprefix", "--start"])

    def test_only_missing_packages_are_installed(self):
        with mock.patch.object(system_linux, "installed", return_value=True), \
                mock.patch("subprocess.run") as run:
            system_linux.install(system_linux.CORE_PACKAGES)
        run.assert_not_called()


class Windows(unittest.TestCase):
    def test_programs_run_directly(self):
        self.assertEqual(system_windows.program_command(BUILD, "client", ["--help"]),
                         [str(BUILD / "bin" / "client.exe"), "--help"])

    def test_the_build_uses_visual_studios_compiler_unless_mingw_is_asked_for(self):
        with mock.patch.dict("os.environ", {"TUTORIAL_WINDOWS_COMPILER": ""}):
            command = system_windows.configure_command(Path("/src"), BUILD, [], "")
        self.assertIn("-DCMAKE_C_COMPILER=cl", command)
        self.assertNotIn("-DCMAKE_TOOLCHAIN_FILE", " ".join(command))
        with mock.patch.dict("os.environ", {"TUTORIAL_WINDOWS_COMPILER": "mingw"}):
            command = system_windows.configure_command(Path("/src"), BUILD, [], "")
        self.assertIn("-DCMAKE_C_COMPILER=gcc", command)
        self.assertIn("-DCMAKE_EXE_LINKER_FLAGS=-static", command)

    def test_nothing_is_shared_or_stopped(self):
        self.assertEqual(system_windows.start_shared_runner(BUILD), [])
        self.assertIsNone(system_windows.change_waiter())

    def test_a_missing_tool_is_named_with_where_to_get_it(self):
        from ui import Stop
        with mock.patch("shutil.which", return_value=None), self.assertRaises(Stop) as stopped:
            system_windows.setup()
        self.assertEqual(stopped.exception.status, 1)
        self.assertIn("Developer Command Prompt", stopped.exception.message)

    def test_setup_names_no_cmocka_archive_unless_one_is_given(self):
        with mock.patch("shutil.which", return_value="C:/tools/x.exe"):
            with mock.patch.dict("os.environ", {"TUTORIAL_CMOCKA_ARCHIVE": ""}):
                self.assertEqual(system_windows.setup(), [])  # CMake downloads it
            with mock.patch.dict("os.environ", {"TUTORIAL_CMOCKA_ARCHIVE": "D:/cmocka.tar.xz"}):
                self.assertEqual(system_windows.setup(), ["-DTUTORIAL_CMOCKA_ARCHIVE=D:/cmocka.tar.xz"])


class LinuxOnlyCommands(unittest.TestCase):
    def test_the_linux_checks_are_refused_on_windows_with_status_2(self):
        import io
        from contextlib import redirect_stderr
        import cli
        with mock.patch.object(cli.system, "NAME", "Windows"), redirect_stderr(io.StringIO()):
            for command in ("docs-run", "portability", "msvc-check", "bench"):
                with self.subTest(command=command):
                    self.assertEqual(cli.main([command]), 2)



class MsvcCheckWithoutSolutions(unittest.TestCase):
    def test_a_course_copy_builds_no_checker_and_says_why(self):
        import io
        from contextlib import redirect_stderr
        import checks
        with mock.patch.object(checks, "solutions_dir", return_value=None), \
                mock.patch("subprocess.run") as run, redirect_stderr(io.StringIO()) as said:
            self.assertEqual(checks.check_exercises_in_msvc_mode(BUILD, []), 0)
        run.assert_not_called()
        self.assertIn("no solutions/ here", said.getvalue())


if __name__ == "__main__":
    unittest.main()
