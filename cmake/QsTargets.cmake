# Flags for the project's own targets only (never for dependencies).
set(QS_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(QS_WERROR)
  list(APPEND QS_WARNINGS -Werror)
endif()
set(QS_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

function(qs_apply_project_flags target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${QS_WARNINGS}>)
  if(QS_SANITIZE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${QS_SANITIZER_FLAGS}>)
    target_link_options(${target} PRIVATE ${QS_SANITIZER_FLAGS})
  endif()
endfunction()

# qs_library(NAME SOURCES... [DEPS ...]): one library per folder; headers are included as
# "folder/header.h" from the project root.
function(qs_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  qs_apply_project_flags(${name})
  if(QS_SANITIZE)
    target_link_options(${name} INTERFACE ${QS_SANITIZER_FLAGS})
  endif()
endfunction()

# qs_test(NAME LABEL SOURCES... DEPS ...): a GoogleTest binary registered with ctest.
function(qs_test name label)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} qs::gtest qs::gtest_main qs::gtest)
  target_compile_definitions(${name} PRIVATE
    QS_SHARED_DIR="${QS_SHARED_DIR}" QS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    QS_BINARY_DIR="${PROJECT_BINARY_DIR}")
  qs_apply_project_flags(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${label} TIMEOUT ${ARG_TIMEOUT})
endfunction()
