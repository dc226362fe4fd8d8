# The portability check: clang, targeting mingw-w64, with mingw-w64's headers and
# libraries. A second compiler catches code that only GCC accepts.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET x86_64-w64-mingw32)
# C++ (step 07's sketch) uses the C++ library of mingw-w64's g++: only when it is installed.
find_program(TUTORIAL_MINGW_CXX x86_64-w64-mingw32-g++)
if(TUTORIAL_MINGW_CXX)
  set(CMAKE_CXX_COMPILER clang++)
  set(CMAKE_CXX_COMPILER_TARGET x86_64-w64-mingw32)
endif()
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# clang links with mingw-w64's runtime, which lives beside its gcc.
execute_process(COMMAND x86_64-w64-mingw32-gcc -print-libgcc-file-name
                OUTPUT_VARIABLE libgcc OUTPUT_STRIP_TRAILING_WHITESPACE)
get_filename_component(libgcc_dir "${libgcc}" DIRECTORY)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -L${libgcc_dir}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-L${libgcc_dir}")
# MSVC's /W4 warns about implicit narrowing (C4244, C4267), which GCC's -Wall does not: this
# build catches it on Linux.
set(CMAKE_C_FLAGS_INIT "-Wconversion -Wno-sign-conversion -Wshorten-64-to-32")
set(CMAKE_CXX_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
