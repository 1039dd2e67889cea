#define CAF_SUITE transport_faults
#include "integration/support_http.hpp"
#include "integration/support_process.hpp"
#include "switchyard/transport.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

/// Records what the transport told it, with arrival times.
class recording_sink : public transfer_sink {
public:
  void on_head(int status, const header_list& headers) override {
    std::lock_guard<std::mutex> guard{mtx_};
    ++heads;
    head_status = status;
    head_headers = headers;
    head_at = clock_type::now();
  }

  void on_chunk(std::string_view chunk) override {
    std::lock_guard<std::mutex> guard{mtx_};
    chunks.emplace_back(chunk);
    chunk_times.push_back(clock_type::now());
  }

  void on_complete(transfer_result r) override {
    std::lock_guard<std::mutex> guard{mtx_};
    result = std::move(r);
    done_at = clock_type::now();
    ++completions;
    cv_.notify_all();
  }

  /// Waits until on_complete ran; false on timeout.
  bool wait(timespan timeout = 10s) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [this] { return completions > 0; });
  }

  /// All chunks, concatenated.
  std::string streamed() const {
    std::string out;
    for (auto& c : chunks)
      out += c;
    return out;
  }

  int heads = 0;
  int head_status = 0;
  header_list head_headers;
  time_point head_at;
  std::vector<std::string> chunks;
  std::vector<time_point> chunk_times;
  transfer_result result;
  time_point done_at;
  int completions = 0;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
};

long ms(timespan d) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

struct fixture {
  test::mock_server mock = test::start_mock();

  /// A chat request to the mock with per-request knobs.
  http_job chat(std::string fault = {}, bool stream = false, int words = 0,
                int chunk_delay_ms = -1) {
    http_job job;
    job.stream = stream;
    job.request.url = mock.base_url() + "/v1/chat/completions";
    job.request.headers = {{"Content-Type", "application/json"},
                           {"Authorization", "Bearer test"}};
    if (!fault.empty())
      job.request.headers.push_back({"x-mock-fault", std::move(fault)});
    if (words > 0)
      job.request.headers.push_back({"x-mock-words", std::to_string(words)});
    if (chunk_delay_ms >= 0)
      job.request.headers.push_back(
          {"x-mock-chunk-delay-ms", std::to_string(chunk_delay_ms)});
    job.request.body = std::string{R"({"model":"mock-1","messages":[)"
                                   R"({"role":"user","content":"hi"}])"}
                       + (stream ? R"(,"stream":true})" : "}");
    return job;
  }

  /// Runs one job to completion and returns its sink.
  std::shared_ptr<recording_sink> run(http_job job, timespan wait = 10s) {
    auto sink = std::make_shared<recording_sink>();
    start = clock_type::now();
    tr.submit(std::move(job), sink);
    CAF_REQUIRE(sink->wait(wait));
    return sink;
  }

  /// The mock's request count so far.
  int64_t mock_total() {
    auto r = test::http_get(mock.base_url() + "/mock/stats");
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("total", int64_t{-1}) : -1;
  }

  transport tr;
  time_point start;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(transport_faults_tests, fixture)

CAF_TEST(a plain request gets status headers and body) {
  auto s = run(chat());
  auto& r = s->result;
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(r.response.status, 200);
  CAF_CHECK(find_header(r.response.headers, "content-type").has_value());
  auto j = nlohmann::json::parse(r.response.body, nullptr, false);
  CAF_CHECK(j.is_object() && j.contains("choices"));
  CAF_CHECK_EQUAL(s->heads, 0); // on_head is for streams only
  CAF_CHECK_EQUAL(mock_total(), 1);
}

CAF_TEST(error statuses come back as responses with their headers) {
  struct expectation {
    const char* fault;
    int status;
    const char* body_part;
  };
  for (auto [fault, status, body_part] : {
           expectation{"status=418", 418, "418"},
           expectation{"quota", 429, "insufficient_quota"},
           expectation{"overloaded", 503, "overloaded"},
           expectation{"server_error", 500, "server_error"},
           expectation{"auth", 401, "invalid_api_key"},
           expectation{"context_length", 400, "context_length_exceeded"},
           expectation{"content_filter", 400, "content_filter"},
       }) {
    CAF_MESSAGE("fault " << fault);
    auto s = run(chat(fault));
    CAF_CHECK(s->result.error == transport_error::none);
    CAF_CHECK_EQUAL(s->result.response.status, status);
    CAF_CHECK_NOT_EQUAL(s->result.response.body.find(body_part),
                        std::string::npos);
  }
}

CAF_TEST(a 429 carries retry - after and retry - after - ms) {
  auto s = run(chat("rate_limit=2"));
  auto& r = s->result;
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(r.response.status, 429);
  CAF_CHECK(find_header(r.response.headers, "retry-after")
            == std::optional<std::string_view>{"2"});
  CAF_CHECK(find_header(r.response.headers, "retry-after-ms")
            == std::optional<std::string_view>{"2000"});
}

CAF_TEST(a stream delivers head then chunks spaced by the chunk delay) {
  auto s = run(chat({}, true, 6, 20));
  auto& r = s->result;
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(s->heads, 1);
  CAF_CHECK_EQUAL(s->head_status, 200);
  CAF_CHECK(find_header(s->head_headers, "content-type")
                .value_or("")
                .starts_with("text/event-stream"));
  CAF_CHECK(r.response.body.empty());
  CAF_REQUIRE_GREATER_OR_EQUAL(s->chunks.size(), 6u);
  CAF_CHECK(s->head_at <= s->chunk_times.front());
  auto all = s->streamed();
  CAF_CHECK_NOT_EQUAL(all.find("data: [DONE]"), std::string::npos);
  // The words arrive in order, one per chunk, about 20 ms apart.
  std::vector<long> gaps;
  for (size_t i = 1; i < s->chunk_times.size(); ++i)
    gaps.push_back(ms(s->chunk_times[i] - s->chunk_times[i - 1]));
  std::sort(gaps.begin(), gaps.end());
  auto median = gaps[gaps.size() / 2];
  CAF_CHECK_GREATER_OR_EQUAL(median, 15);
  CAF_CHECK_LESS(median, 80);
  CAF_CHECK_GREATER_OR_EQUAL(ms(s->chunk_times.back() - s->chunk_times.front()),
                             5 * 20 - 10);
}

CAF_TEST(a stream with an error status delivers the body at the end) {
  auto s = run(chat("rate_limit=1", true));
  auto& r = s->result;
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(s->heads, 1);
  CAF_CHECK_EQUAL(s->head_status, 429);
  CAF_CHECK(s->chunks.empty());
  CAF_CHECK_EQUAL(r.response.status, 429);
  CAF_CHECK_NOT_EQUAL(r.response.body.find("rate_limit_exceeded"),
                      std::string::npos);
  CAF_CHECK(find_header(r.response.headers, "retry-after-ms").has_value());
}

CAF_TEST(latency below the first byte timeout succeeds after the latency) {
  auto job = chat("latency=300");
  job.timeouts.first_byte = 2s;
  auto s = run(std::move(job));
  CAF_CHECK(s->result.error == transport_error::none);
  CAF_CHECK_EQUAL(s->result.response.status, 200);
  CAF_CHECK_GREATER_OR_EQUAL(ms(s->done_at - start), 300);
}

CAF_TEST(first byte timeout fires at its time and not before) {
  auto job = chat("first_byte=500");
  job.timeouts.first_byte = 200ms;
  auto s = run(std::move(job));
  CAF_CHECK(s->result.error == transport_error::first_byte_timeout);
  CAF_CHECK_EQUAL(s->result.response.status, 0);
  auto took = ms(s->done_at - start);
  CAF_CHECK_GREATER_OR_EQUAL(took, 200);
  CAF_CHECK_LESS(took, 450);
  CAF_CHECK(classify_transport_error(s->result.error, s->result.detail).cls
            == error_class::timeout);
}

CAF_TEST(a hanging server hits the first byte timeout) {
  auto job = chat("hang", true);
  job.timeouts.first_byte = 150ms;
  auto s = run(std::move(job));
  CAF_CHECK(s->result.error == transport_error::first_byte_timeout);
  CAF_CHECK_EQUAL(s->heads, 0);
  auto took = ms(s->done_at - start);
  CAF_CHECK_GREATER_OR_EQUAL(took, 150);
  CAF_CHECK_LESS(took, 400);
}

CAF_TEST(a stalled stream hits the idle timeout after its chunks) {
  auto job = chat("stall_after=2", true, 10, 10);
  job.timeouts.first_byte = 2s;
  job.timeouts.idle = 150ms;
  auto s = run(std::move(job));
  CAF_CHECK(s->result.error == transport_error::idle_timeout);
  CAF_CHECK_EQUAL(s->head_status, 200);
  CAF_REQUIRE_GREATER_OR_EQUAL(s->chunks.size(), 2u);
  CAF_CHECK_EQUAL(s->streamed().find("[DONE]"), std::string::npos);
  auto idle = ms(s->done_at - s->chunk_times.back());
  CAF_CHECK_GREATER_OR_EQUAL(idle, 150);
  CAF_CHECK_LESS(idle, 400);
}

CAF_TEST(the total timeout bounds a non - streaming request) {
  auto job = chat("latency=1000");
  job.timeouts.total = 300ms;
  auto s = run(std::move(job));
  CAF_CHECK(s->result.error == transport_error::total_timeout);
  auto took = ms(s->done_at - start);
  CAF_CHECK_GREATER_OR_EQUAL(took, 300);
  CAF_CHECK_LESS(took, 600);
}

CAF_TEST(a refused connection is connect_failed) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd); // bound, never listened, released: nobody listens there
  auto job = chat();
  job.request.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))
                    + "/v1/chat/completions";
  auto s = run(std::move(job));
  CAF_CHECK(s->result.error == transport_error::connect_failed);
  CAF_CHECK_LESS(ms(s->done_at - start), 1000);
  CAF_CHECK(classify_transport_error(s->result.error, s->result.detail).cls
            == error_class::connection);
}

CAF_TEST(a closed connection is recv_failed) {
  auto s = run(chat("close"));
  CAF_CHECK(s->result.error == transport_error::recv_failed);
  CAF_CHECK_EQUAL(s->result.response.status, 0);
  CAF_CHECK(classify_transport_error(s->result.error, s->result.detail).cls
            == error_class::connection);
}

CAF_TEST(a stream dropped part way is recv_failed after its chunks) {
  auto s = run(chat("drop_after=2", true, 10, 5));
  CAF_CHECK(s->result.error == transport_error::recv_failed);
  CAF_CHECK_EQUAL(s->head_status, 200);
  CAF_CHECK_GREATER_OR_EQUAL(s->chunks.size(), 2u);
  CAF_CHECK_EQUAL(s->streamed().find("[DONE]"), std::string::npos);
}

CAF_TEST(body level faults pass through the transport untouched) {
  {
    auto s = run(chat("malformed"));
    CAF_CHECK(s->result.error == transport_error::none);
    CAF_CHECK_EQUAL(s->result.response.status, 200);
    auto j = nlohmann::json::parse(s->result.response.body, nullptr, false);
    CAF_CHECK(j.is_discarded() || !j.contains("choices"));
  }
  {
    auto s = run(chat("no_done", true, 3, 0));
    CAF_CHECK(s->result.error == transport_error::none);
    CAF_CHECK_GREATER_OR_EQUAL(s->chunks.size(), 1u);
    CAF_CHECK_EQUAL(s->streamed().find("[DONE]"), std::string::npos);
  }
  {
    auto s = run(chat("error_event_after=2", true, 6, 0));
    CAF_CHECK(s->result.error == transport_error::none);
    CAF_CHECK_EQUAL(s->head_status, 200);
    CAF_CHECK_NOT_EQUAL(s->streamed().find("error"), std::string::npos);
  }
  {
    auto s = run(chat("empty"));
    CAF_CHECK(s->result.error == transport_error::none);
    CAF_CHECK_EQUAL(s->result.response.status, 200);
  }
}

CAF_TEST(cancel frees a hanging transfer at once and the host still works) {
  CAF_REQUIRE(
      test::http_post(mock.base_url() + "/mock/stats/reset", "{}").ok());
  auto sink = std::make_shared<recording_sink>();
  auto id = tr.submit(chat("hang"), sink);
  // The hanging request reached the mock.
  CAF_CHECK(test::eventually([&] { return mock_total() == 1; }, 2000ms));
  CAF_CHECK_EQUAL(tr.in_flight(), 1u);
  auto cancelled_at = clock_type::now();
  tr.cancel(id);
  CAF_REQUIRE(sink->wait(2s));
  CAF_CHECK(sink->result.error == transport_error::cancelled);
  CAF_CHECK_LESS(ms(sink->done_at - cancelled_at), 50);
  CAF_CHECK_EQUAL(tr.in_flight(), 0u);
  tr.cancel(id); // no second completion
  auto s = run(chat());
  CAF_CHECK(s->result.error == transport_error::none);
  CAF_CHECK_EQUAL(s->result.response.status, 200);
  CAF_CHECK_EQUAL(sink->completions, 1);
  // Exactly two chat requests reached the mock: the transport sent the
  // cancelled one once and did not retry it (control requests are not
  // counted).
  CAF_CHECK_EQUAL(mock_total(), 2);
}

CAF_TEST(a response over max_response_bytes is too_large) {
  transport_config cfg;
  cfg.max_response_bytes = 256;
  transport small{cfg};
  auto sink = std::make_shared<recording_sink>();
  auto job = chat({}, false, 200);
  small.submit(std::move(job), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::too_large);
  CAF_CHECK(
      classify_transport_error(sink->result.error, sink->result.detail).cls
      == error_class::malformed);
  auto stream = std::make_shared<recording_sink>();
  small.submit(chat({}, true, 200, 0), stream);
  CAF_REQUIRE(stream->wait());
  CAF_CHECK(stream->result.error == transport_error::too_large);
}

CAF_TEST(two hundred parallel requests all succeed) {
  std::vector<std::shared_ptr<recording_sink>> sinks;
  for (int i = 0; i < 200; ++i) {
    auto sink = std::make_shared<recording_sink>();
    sinks.push_back(sink);
    tr.submit(chat(), sink);
  }
  int ok = 0;
  for (auto& s : sinks)
    if (s->wait() && s->result.error == transport_error::none
        && s->result.response.status == 200)
      ++ok;
  CAF_CHECK_EQUAL(ok, 200);
  CAF_CHECK_EQUAL(tr.in_flight(), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
