# Install rules: the engine an embedder links (switchyard::engine, with its
# one public header switchyard/engine.hpp and the libengine headers that
# header includes), the core library it is built on (switchyard::core, an
# internal link dependency), and a package config so that another project can
#
#   find_package(switchyard REQUIRED)
#   target_link_libraries(app PRIVATE switchyard::engine)
#
# CAF, the actor protocol and the actor runtime's private headers are not
# installed; the config finds the libraries the static archives need at link
# time itself (Threads, CAF through the FindCAF module shipped next to it,
# CURL, nlohmann_json, simdjson). Included at the end of the top-level
# CMakeLists.txt, after every target exists.

include(CMakePackageConfigHelpers)

set(SWITCHYARD_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/switchyard"
    CACHE STRING "Where switchyardConfig.cmake is installed")
mark_as_advanced(SWITCHYARD_INSTALL_CMAKEDIR)

set(_switchyard_install_targets switchyard_core)
if(TARGET switchyard_actors)
  list(APPEND _switchyard_install_targets switchyard_actors)
endif()

install(TARGETS ${_switchyard_install_targets}
  EXPORT switchyard-targets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_dev
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_runtime
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT switchyard_runtime
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# Public headers: engine.hpp and what it includes, no more (a header added to
# that closure must be listed here; scripts/check-install.sh builds against
# the installed tree and fails otherwise).
set(_switchyard_core_headers
  adapter.hpp cache.hpp config.hpp error.hpp event_log.hpp events.hpp expected.hpp
  http.hpp
  metrics.hpp
  model.hpp sse.hpp stream.hpp time.hpp transport.hpp
  policy/circuit_breaker.hpp policy/settings.hpp policy/time_window.hpp)
foreach(h IN LISTS _switchyard_core_headers)
  get_filename_component(_dir "${h}" DIRECTORY)
  install(FILES "${PROJECT_SOURCE_DIR}/libengine/include/switchyard/${h}"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/switchyard/${_dir}"
    COMPONENT switchyard_dev)
endforeach()
if(TARGET switchyard_actors)
  install(FILES "${PROJECT_SOURCE_DIR}/actors/include/switchyard/engine.hpp"
    "${PROJECT_SOURCE_DIR}/actors/include/switchyard/engine_metrics.hpp"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/switchyard"
    COMPONENT switchyard_dev)
endif()

install(EXPORT switchyard-targets
  NAMESPACE switchyard::
  FILE switchyardTargets.cmake
  DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}" COMPONENT switchyard_dev)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/switchyardConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/switchyardConfig.cmake"
  INSTALL_DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}")
# Before 1.0 a minor release may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/switchyardConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)

install(FILES
  "${PROJECT_BINARY_DIR}/switchyardConfig.cmake"
  "${PROJECT_BINARY_DIR}/switchyardConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake"
  DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}" COMPONENT switchyard_dev)

unset(_switchyard_install_targets)
unset(_switchyard_core_headers)
unset(_dir)
