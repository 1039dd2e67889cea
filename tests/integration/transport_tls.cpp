#define CAF_SUITE transport_tls
// TLS through the real transport against a real HTTPS server on loopback
// with a certificate made for the test: verification is on, and trusts the
// system bundle, `ca_file` and `ca_path` as documented.
#include "integration/support_process.hpp"
#include "switchyard/transport.hpp"

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;

namespace {

/// Waits for one transfer's end.
class waiting_sink final : public transfer_sink {
public:
  void on_head(int, const header_list&) override {
    // nop
  }

  void on_chunk(std::string_view) override {
    // nop
  }

  void on_complete(transfer_result r) override {
    std::lock_guard guard{mtx_};
    result_ = std::move(r);
    cv_.notify_all();
  }

  std::optional<transfer_result> wait(timespan timeout) {
    std::unique_lock guard{mtx_};
    cv_.wait_for(guard, timeout, [this] { return result_.has_value(); });
    return result_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::optional<transfer_result> result_;
};

/// Runs `cmd` through the shell; fails the test when it fails.
void run(const std::string& cmd) {
  auto rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  CAF_REQUIRE_EQUAL(rc, 0);
}

/// A self-signed certificate for 127.0.0.1 in a fresh directory, the HTTPS
/// server using it, and a directory holding it under its subject hash.
struct fixture {
  std::filesystem::path dir;
  std::filesystem::path cert;
  std::filesystem::path hashed;
  child_process server;
  int port = 0;

  fixture() {
    char tmpl[] = "/tmp/switchyard-tls-XXXXXX";
    CAF_REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    cert = dir / "cert.pem";
    auto key = dir / "key.pem";
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
        "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout "
        + key.string() + " -out " + cert.string());
    hashed = dir / "hashed";
    std::filesystem::create_directory(hashed);
    std::filesystem::copy_file(cert, hashed / "test-ca.pem");
    run("openssl rehash " + hashed.string());
    auto started = child_process::start({"/usr/bin/env", "python3",
                                         SWITCHYARD_SOURCE_DIR
                                         "/tests/integration/tls_server.py",
                                         cert.string(), key.string()});
    CAF_REQUIRE(started.has_value());
    server = std::move(*started);
    auto line = server.read_line(10s);
    CAF_REQUIRE(line.has_value());
    port = std::stoi(*line);
  }

  ~fixture() {
    server.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// POSTs once through a transport built with `cfg`.
  transfer_result post(transport_config cfg) {
    transport tr{std::move(cfg)};
    http_job job;
    job.request.url = "https://127.0.0.1:" + std::to_string(port) + "/v1/x";
    job.request.headers = {{"content-type", "application/json"}};
    job.request.body = R"({"q":1})";
    job.timeouts.total = 10s;
    auto sink = std::make_shared<waiting_sink>();
    tr.submit(std::move(job), sink);
    auto r = sink->wait(15s);
    CAF_REQUIRE(r.has_value());
    return std::move(*r);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(transport_tls_tests, fixture)

CAF_TEST(an unknown certificate fails verification with the system bundle) {
  auto r = post({});
  CAF_MESSAGE("detail: " << r.detail);
  CAF_CHECK(r.error == transport_error::tls);
  CAF_CHECK_EQUAL(r.response.status, 0);
}

CAF_TEST(a ca_file that holds the certificate is trusted) {
  transport_config cfg;
  cfg.ca_file = cert.string();
  auto r = post(cfg);
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(r.response.status, 200);
  CAF_CHECK_EQUAL(r.response.body, R"({"ok":true})");
}

CAF_TEST(a ca_path directory is trusted besides the bundle) {
  transport_config cfg;
  cfg.ca_path = hashed.string();
  auto r = post(cfg);
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(r.response.status, 200);
}

CAF_TEST_FIXTURE_SCOPE_END()
