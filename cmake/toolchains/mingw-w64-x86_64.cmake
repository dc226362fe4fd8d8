# Cross-compiling for 64-bit Windows with Debian/Ubuntu's mingw-w64 (gcc-mingw-w64-x86-64).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
# C++ only for step 07's C++ sketch (07-leak-fix/cpp), and only when g++-mingw-w64-x86-64
# is installed (./tutorial setup installs it): without it, that one target is left out.
find_program(TUTORIAL_MINGW_CXX x86_64-w64-mingw32-g++)
if(TUTORIAL_MINGW_CXX)
  set(CMAKE_CXX_COMPILER "${TUTORIAL_MINGW_CXX}")
endif()
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# One self-contained .exe per program: no libgcc DLL for Wine (or Windows) to look for.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
