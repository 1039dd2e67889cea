// The actor test binary's runner: every other file here is one suite, run in
// virtual time on CAF's test coordinator.
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>

int main(int argc, char** argv) {
  return caf::test::main(argc, argv);
}
