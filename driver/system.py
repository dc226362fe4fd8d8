"""The platform layer: the one module that differs between Linux and Windows.

Both modules offer the same names: NAME, UNDER (" under Wine", or nothing), the package
lists, install(), setup() (returns CMake settings for cmocka), configure_command(),
program_command(), start_shared_runner() / stop_shared_runner(), before_clean() and
change_waiter(). Everything else in the driver is the same on both systems.
"""
from paths import ON_WINDOWS

if ON_WINDOWS:
    from system_windows import *  # noqa: F401,F403
else:
    from system_linux import *  # noqa: F401,F403
