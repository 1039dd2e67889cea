# Install rules: the two libraries (switchyard::engine, switchyard::actors),
# their public headers, and a package config so that another project can
#
#   find_package(switchyard REQUIRED)
#   target_link_libraries(app PRIVATE switchyard::actors)
#
# The config finds the dependencies itself (Threads, CAF through the FindCAF
# module shipped next to it, CURL, nlohmann_json, simdjson). Included at the end of the
# top-level CMakeLists.txt, after every target exists.

include(CMakePackageConfigHelpers)

set(SWITCHYARD_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/switchyard"
    CACHE STRING "Where switchyardConfig.cmake is installed")
mark_as_advanced(SWITCHYARD_INSTALL_CMAKEDIR)

set(_switchyard_install_targets switchyard_engine)
if(TARGET switchyard_actors)
  list(APPEND _switchyard_install_targets switchyard_actors)
endif()

install(TARGETS ${_switchyard_install_targets}
  EXPORT switchyard-targets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_dev
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_runtime
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT switchyard_runtime
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# Public headers: libengine's whole tree (with policy/), and the actors'
# top-level headers (engine.hpp, actors.hpp).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/libengine/include/switchyard"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT switchyard_dev
  FILES_MATCHING PATTERN "*.hpp")
if(TARGET switchyard_actors)
  file(GLOB _switchyard_actor_headers CONFIGURE_DEPENDS
       "${PROJECT_SOURCE_DIR}/actors/include/switchyard/*.hpp")
  install(FILES ${_switchyard_actor_headers}
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
unset(_switchyard_actor_headers)
