# cmocka, the test framework of every step.
# 1. An installed cmocka built for this target (find_package).
# 2. Otherwise the official 1.1.5 release, pinned by its hash. Where the official site
#    cannot be reached, ./tutorial passes TUTORIAL_CMOCKA_ARCHIVE: the same release file,
#    taken from Debian's source package (its .orig.tar.xz has the same hash).
set(TUTORIAL_CMOCKA_ARCHIVE "" CACHE FILEPATH "A local copy of cmocka-1.1.5.tar.xz")
set(TUTORIAL_CMOCKA_SHA256 f0ccd8242d55e2fd74b16ba518359151f6f8383ff8aef4976e48393f77bba8b6)

find_package(cmocka 1.1 CONFIG QUIET)
if(TARGET cmocka::cmocka)
  add_library(tutorial_cmocka ALIAS cmocka::cmocka)
elseif(cmocka_FOUND AND DEFINED CMOCKA_LIBRARIES)
  add_library(tutorial_cmocka INTERFACE)
  target_include_directories(tutorial_cmocka INTERFACE ${CMOCKA_INCLUDE_DIR})
  target_link_libraries(tutorial_cmocka INTERFACE ${CMOCKA_LIBRARIES})
else()
  include(FetchContent)
  if(TUTORIAL_CMOCKA_ARCHIVE)
    set(cmocka_url "${TUTORIAL_CMOCKA_ARCHIVE}")
  else()
    set(cmocka_url "https://cmocka.org/files/1.1/cmocka-1.1.5.tar.xz")
  endif()
  FetchContent_Declare(cmocka
    URL "${cmocka_url}"
    URL_HASH SHA256=${TUTORIAL_CMOCKA_SHA256}
    DOWNLOAD_EXTRACT_TIMESTAMP ON)
  set(WITH_STATIC_LIB ON CACHE BOOL "" FORCE)
  set(WITH_EXAMPLES OFF CACHE BOOL "" FORCE)
  set(UNIT_TESTING OFF CACHE BOOL "" FORCE)
  set(PICKY_DEVELOPER OFF CACHE BOOL "" FORCE)
  # Only the static library is built (EXCLUDE_FROM_ALL: the targets we link pull it in);
  # our warnings-as-errors are not applied to cmocka's own code.
  FetchContent_GetProperties(cmocka)
  if(NOT cmocka_POPULATED)
    FetchContent_Populate(cmocka)
    add_subdirectory("${cmocka_SOURCE_DIR}" "${cmocka_BINARY_DIR}" EXCLUDE_FROM_ALL)
  endif()
  if(NOT MSVC)
    target_compile_options(cmocka-static PRIVATE -w) # its warnings are not ours to fix
  endif()
  add_library(tutorial_cmocka INTERFACE)
  target_link_libraries(tutorial_cmocka INTERFACE cmocka-static)
  # SYSTEM: cmocka.h uses GNU extensions in its macros; they are not ours to warn about.
  target_include_directories(tutorial_cmocka SYSTEM INTERFACE "${cmocka_SOURCE_DIR}/include")
  target_compile_definitions(tutorial_cmocka INTERFACE CMOCKA_STATIC)
endif()
