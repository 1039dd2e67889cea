# switchyard_test_binary(NAME DIR LIBS...)
# Builds DIR/*.cpp into NAME-tests (DIR/main.cpp includes CAF's test runner)
# and registers one ctest entry NAME.<suite> per other source file, where the
# file's stem is the suite's name.
function(switchyard_test_binary name dir)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${dir}/*.cpp")
  add_executable(${name}-tests ${sources})
  target_link_libraries(${name}-tests PRIVATE ${ARGN} CAF::core)
  target_include_directories(${name}-tests PRIVATE
    "${PROJECT_SOURCE_DIR}/tests")
  target_compile_definitions(${name}-tests PRIVATE
    SWITCHYARD_WIRE_DIR="${PROJECT_SOURCE_DIR}/tests/wire")
  switchyard_pch(${name}-tests <caf/all.hpp> <nlohmann/json.hpp>)
  foreach(src IN LISTS sources)
    get_filename_component(suite "${src}" NAME_WE)
    if(suite STREQUAL "main" OR suite MATCHES "^support_")
      continue()
    endif()
    add_test(NAME ${name}.${suite}
             COMMAND ${name}-tests -n -r 300 -s "^${suite}$")
    set_tests_properties(${name}.${suite} PROPERTIES TIMEOUT 600
      FAIL_REGULAR_EXPRESSION "suites: +0[^0-9]|tests: +0[^0-9]")
  endforeach()
endfunction()
