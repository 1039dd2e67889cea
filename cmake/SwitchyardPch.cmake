# switchyard_pch(TARGET HEADER...)
# Precompiles the heavy third-party headers most of TARGET's files include
# (CAF, nlohmann/json): they are most of the compile time of a test or actor
# file, and CI builds everything twice from scratch. Only headers that carry
# no per-file configuration may go in (not caf/test/unit_test.hpp, which reads
# CAF_SUITE, nor caf/test/dsl.hpp, whose `allow` macro must come after our
# headers). SWITCHYARD_PCH=OFF turns it off (for example to check that every
# file includes what it uses).
option(SWITCHYARD_PCH "Precompile CAF and nlohmann/json headers" ON)

function(switchyard_pch target)
  if(SWITCHYARD_PCH)
    target_precompile_headers(${target} PRIVATE ${ARGN})
  endif()
endfunction()
