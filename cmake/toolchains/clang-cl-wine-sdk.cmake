# MSVC mode, the check behind ./tutorial msvc-check: clang in its cl driver mode (clang-cl)
# targeting x86_64-pc-windows-msvc, with Wine 8's copy of the Windows SDK and C-runtime
# headers (libwine-dev), linked by lld-link against Wine's import libraries. CMake sees an
# MSVC-like compiler (MSVC is set), so the project's MSVC branch of cmake/Warnings.cmake
# (/W4 /WX) is the one used, and the cl command line is what Visual Studio's would be. The
# programs then run under Wine, so ctest runs the whole suite.
#
# What it needs (./tutorial msvc-check installs them): clang-19, lld-19, llvm-19, libwine-dev.
# Everything it makes lives in TUTORIAL_MSVC_MODE_DIR (<build>/msvc-mode-sdk by default):
#   bin/clang-cl       a link to clang-19 (the name selects the cl driver mode)
#   lib/NAME.lib       Wine's import library libNAME.a under the name the SDK uses
#   lib/msvcrt(d).lib  a stand-in for the static part of the C runtime
#                      (cmake/msvc-mode/crt_stand_in.c); it asks for ucrt.lib, as the real
#                      one does, which is Wine's ucrtbase import library
#   lib/oldnames.lib   empty (clang-cl asks for it, as cl does)
# Wine 8's headers lack a few things the SDK has: cmake/msvc-mode/include adds them and is
# searched first.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(tutorial_llvm_suffix "-19")
set(tutorial_wine_headers /usr/include/wine/wine)
set(tutorial_wine_libs /usr/lib/x86_64-linux-gnu/wine/x86_64-windows)
get_filename_component(tutorial_overlay "${CMAKE_CURRENT_LIST_DIR}/../msvc-mode" ABSOLUTE)

if(NOT TUTORIAL_MSVC_MODE_DIR)
  set(TUTORIAL_MSVC_MODE_DIR "${CMAKE_BINARY_DIR}/msvc-mode-sdk")
endif()
set(TUTORIAL_MSVC_MODE_DIR "${TUTORIAL_MSVC_MODE_DIR}" CACHE PATH "MSVC mode's own tools and libraries")
# try_compile projects read this file again, from their own folder: they get the same SDK.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TUTORIAL_MSVC_MODE_DIR)
set(sdk "${TUTORIAL_MSVC_MODE_DIR}")

foreach(tool clang lld-link llvm-lib llvm-mt llvm-rc)
  string(MAKE_C_IDENTIFIER "${tool}" var)
  find_program(tutorial_${var} NAMES ${tool}${tutorial_llvm_suffix} ${tool} REQUIRED)
endforeach()
foreach(dir "${tutorial_wine_headers}/windows" "${tutorial_wine_headers}/msvcrt" "${tutorial_wine_libs}")
  if(NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "MSVC mode needs ${dir} (Debian/Ubuntu package libwine-dev)")
  endif()
endforeach()

if(NOT EXISTS "${sdk}/ready")
  file(MAKE_DIRECTORY "${sdk}/bin" "${sdk}/lib" "${sdk}/obj")
  file(CREATE_LINK "${tutorial_clang}" "${sdk}/bin/clang-cl" SYMBOLIC)
  file(GLOB wine_import_libs "${tutorial_wine_libs}/lib*.a")
  foreach(lib IN LISTS wine_import_libs)
    get_filename_component(name "${lib}" NAME_WE)
    string(REGEX REPLACE "^lib" "" name "${name}")
    file(CREATE_LINK "${lib}" "${sdk}/lib/${name}.lib" SYMBOLIC)
  endforeach()
  file(WRITE "${sdk}/obj/empty.c" "/* the object of an empty library */\n")
  foreach(source crt_stand_in empty)
    if(source STREQUAL "empty")
      set(path "${sdk}/obj/empty.c")
    else()
      set(path "${tutorial_overlay}/${source}.c")
    endif()
    execute_process(
      COMMAND "${sdk}/bin/clang-cl" --target=x86_64-pc-windows-msvc /nologo /c /W4 /WX /GS- /Zl
              "/Fo${sdk}/obj/${source}.obj" -- "${path}"
      RESULT_VARIABLE failed)
    if(failed)
      message(FATAL_ERROR "MSVC mode: could not compile ${path}")
    endif()
  endforeach()
  # The headers are the UCRT's (clang-cl says _MSC_VER 1944), as with Visual Studio today.
  file(CREATE_LINK "${tutorial_wine_libs}/libucrtbase.a" "${sdk}/lib/ucrt.lib" SYMBOLIC)
  foreach(runtime msvcrt msvcrtd)
    execute_process(
      COMMAND "${tutorial_llvm_lib}" /nologo "/out:${sdk}/lib/${runtime}.lib"
              "${sdk}/obj/crt_stand_in.obj"
      RESULT_VARIABLE failed)
    if(failed)
      message(FATAL_ERROR "MSVC mode: could not make ${runtime}.lib")
    endif()
  endforeach()
  execute_process(COMMAND "${tutorial_llvm_lib}" /nologo "/out:${sdk}/lib/oldnames.lib"
                          "${sdk}/obj/empty.obj" RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "MSVC mode: could not make oldnames.lib")
  endif()
  file(TOUCH "${sdk}/ready")
endif()

set(CMAKE_C_COMPILER "${sdk}/bin/clang-cl")
set(CMAKE_C_COMPILER_TARGET x86_64-pc-windows-msvc)
# C++ (step 07's sketch, 07-leak-fix/cpp): the same clang-cl. It uses no C++ library header,
# which Wine's SDK does not have.
set(CMAKE_CXX_COMPILER "${sdk}/bin/clang-cl")
set(CMAKE_CXX_COMPILER_TARGET x86_64-pc-windows-msvc)
set(CMAKE_LINKER "${tutorial_lld_link}")
set(CMAKE_AR "${tutorial_llvm_lib}")
set(CMAKE_MT "${tutorial_llvm_mt}")
set(CMAKE_RC_COMPILER "${tutorial_llvm_rc}")

# -imsvc: the SDK's folders as system headers, as cl's INCLUDE are; the overlay first.
# -fms-compatibility-version: the _MSC_VER of Visual Studio 2022 17.14.
# -Wno-missing-field-initializers: clang-cl's /W4 warns about `= {sizeof x}`, cl does not.
set(CMAKE_C_FLAGS_INIT
  "-fms-compatibility-version=19.44 -imsvc ${tutorial_overlay}/include -imsvc ${tutorial_wine_headers}/msvcrt -imsvc ${tutorial_wine_headers}/windows /clang:-Wno-missing-field-initializers")
# C++ also renames one function of Wine's winnt.h: it defines _InterlockedCompareExchange128
# itself, a name clang reserves for its own builtin, which C accepts and C++ refuses.
set(CMAKE_CXX_FLAGS_INIT
  "${CMAKE_C_FLAGS_INIT} /D_InterlockedCompareExchange128=tutorial_wine_InterlockedCompareExchange128")
set(CMAKE_EXE_LINKER_FLAGS_INIT "/LIBPATH:${sdk}/lib")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "/LIBPATH:${sdk}/lib")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "/LIBPATH:${sdk}/lib")
