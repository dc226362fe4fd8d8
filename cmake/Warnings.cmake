# Warnings are errors, with every compiler the project supports.
add_library(tutorial_warnings INTERFACE)
if(MSVC)
  # C5105: older Windows SDK headers trip it under /std:c11 (not our code).
  # C4204, C4221: "nonstandard extension" for an aggregate initialised with values known
  # only at run time, or with the address of a local. Both are standard C since C99, and the
  # project is C11 (about 80 sites, e.g. `server_config config = {port, ...}`); recent cl no
  # longer reports them under /std:c11, older ones do. Off, so every cl agrees.
  target_compile_options(tutorial_warnings INTERFACE /W4 /WX /wd5105 /wd4204 /wd4221)
  target_compile_definitions(tutorial_warnings INTERFACE
    _CRT_SECURE_NO_WARNINGS WIN32_LEAN_AND_MEAN)
else()
  # C++ (step 07's sketch) gets the same, with -Wmissing-declarations for C's
  # -Wmissing-prototypes, and without -Wstrict-prototypes, which C++ does not need.
  target_compile_options(tutorial_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Werror -Wshadow -Wno-missing-field-initializers
    $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
    $<$<COMPILE_LANGUAGE:CXX>:-Wmissing-declarations>)
  target_compile_definitions(tutorial_warnings INTERFACE WIN32_LEAN_AND_MEAN)
endif()
# Windows 8 API level: CancelIoEx, GetQueuedCompletionStatusEx, SetFileCompletionNotificationModes.
target_compile_definitions(tutorial_warnings INTERFACE _WIN32_WINNT=0x0602 WINVER=0x0602)
