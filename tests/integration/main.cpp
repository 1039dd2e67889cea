// The integration test binary's runner: every other file here is one suite,
// except the support_* files shared by the suites.
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>
#include <curl/curl.h>

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT); // before any thread starts
  auto rc = caf::test::main(argc, argv);
  curl_global_cleanup();
  return rc;
}
