# Finds every dependency either in system paths (Debian packages) or under a prefix
# given in CMAKE_PREFIX_PATH (the GPU machine builds from a bundled .deps/ folder with
# headers and static libraries only, so config packages are not required).

# qs_find_library(TARGET HEADER LIBNAMES...): an imported target from a header + library.
function(qs_find_library target header)
  string(MAKE_C_IDENTIFIER "${target}" id)
  find_path(${id}_INCLUDE_DIR NAMES ${header})
  find_library(${id}_LIBRARY NAMES ${ARGN})
  if(NOT ${id}_INCLUDE_DIR OR NOT ${id}_LIBRARY)
    message(FATAL_ERROR
      "quicksilver: dependency '${target}' not found (header ${header}, library ${ARGN}).\n"
      "Run scripts/setup.sh to install the Debian packages, or add its prefix to CMAKE_PREFIX_PATH.")
  endif()
  add_library(${target} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${${id}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${id}_INCLUDE_DIR}")
  message(STATUS "quicksilver: ${target}: ${${id}_LIBRARY}")
endfunction()

find_package(Threads REQUIRED)

qs_find_library(qs::yaml yaml-cpp/yaml.h yaml-cpp)
qs_find_library(qs::re2 re2/re2.h re2)
qs_find_library(qs::sqlite3 sqlite3.h sqlite3)
qs_find_library(qs::utf8proc utf8proc.h utf8proc)
qs_find_library(qs::gtest gtest/gtest.h gtest)
qs_find_library(qs::gtest_main gtest/gtest.h gtest_main)
set_property(TARGET qs::gtest APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
set_property(TARGET qs::sqlite3 APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads ${CMAKE_DL_LIBS})

find_path(QS_NLOHMANN_INCLUDE_DIR NAMES nlohmann/json.hpp)
if(NOT QS_NLOHMANN_INCLUDE_DIR)
  message(FATAL_ERROR "quicksilver: nlohmann/json.hpp not found. Run scripts/setup.sh (nlohmann-json3-dev).")
endif()
add_library(qs::json INTERFACE IMPORTED GLOBAL)
set_target_properties(qs::json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${QS_NLOHMANN_INCLUDE_DIR}")

# cpp-httplib: Debian ships it split (httplib.h + libcpp-httplib.so built with OpenSSL).
# Upstream's single header needs no library.
find_path(QS_HTTPLIB_INCLUDE_DIR NAMES httplib.h)
if(NOT QS_HTTPLIB_INCLUDE_DIR)
  message(FATAL_ERROR "quicksilver: httplib.h not found. Run scripts/setup.sh (libcpp-httplib-dev).")
endif()
add_library(qs::httplib INTERFACE IMPORTED GLOBAL)
set_target_properties(qs::httplib PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${QS_HTTPLIB_INCLUDE_DIR}")
find_library(QS_HTTPLIB_LIBRARY NAMES cpp-httplib)
file(SIZE "${QS_HTTPLIB_INCLUDE_DIR}/httplib.h" QS_HTTPLIB_HEADER_BYTES)
if(NOT QS_HTTPLIB_LIBRARY AND QS_HTTPLIB_HEADER_BYTES LESS 150000)
  # Debian's header only declares; the code is in libcpp-httplib.so.
  message(FATAL_ERROR
    "quicksilver: ${QS_HTTPLIB_INCLUDE_DIR}/httplib.h is Debian's split cpp-httplib header, "
    "but its library (libcpp-httplib.so) was not found. Install libcpp-httplib-dev, or put "
    "the library next to the header in the prefix (CMAKE_PREFIX_PATH).")
endif()
if(QS_HTTPLIB_LIBRARY)
  set_property(TARGET qs::httplib APPEND PROPERTY INTERFACE_LINK_LIBRARIES ${QS_HTTPLIB_LIBRARY})
  set_property(TARGET qs::httplib APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS CPPHTTPLIB_OPENSSL_SUPPORT)
endif()
set_property(TARGET qs::httplib APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)

if(QS_WITH_TORCH)
  # Debian: /usr/lib/x86_64-linux-gnu/cmake/Torch; GPU machine: the PyTorch wheel's prefix.
  find_package(Torch REQUIRED)
  message(STATUS "quicksilver: LibTorch ${Torch_VERSION}")
endif()
