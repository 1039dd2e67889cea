#define CAF_SUITE transport_loop
#include "switchyard/transport.hpp"

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

/// Records what the transport told it, with arrival times.
class recording_sink : public transfer_sink {
public:
  void on_head(int status, const header_list& headers) override {
    std::lock_guard<std::mutex> guard{mtx_};
    head_status = status;
    head_headers = headers;
    head_at = clock_type::now();
    events.emplace_back("head");
  }

  void on_chunk(std::string_view chunk) override {
    std::lock_guard<std::mutex> guard{mtx_};
    chunks.emplace_back(chunk);
    chunk_times.push_back(clock_type::now());
    events.emplace_back("chunk");
  }

  void on_complete(transfer_result r) override {
    std::lock_guard<std::mutex> guard{mtx_};
    result = std::move(r);
    done_at = clock_type::now();
    ++completions;
    events.emplace_back("complete");
    cv_.notify_all();
  }

  /// Waits until on_complete ran; false on timeout.
  bool wait(timespan timeout = 5s) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [this] { return completions > 0; });
  }

  int completions_now() {
    std::lock_guard<std::mutex> guard{mtx_};
    return completions;
  }

  size_t chunks_now() {
    std::lock_guard<std::mutex> guard{mtx_};
    return chunks.size();
  }

  int head_status = 0;
  header_list head_headers;
  time_point head_at;
  std::vector<std::string> chunks;
  std::vector<time_point> chunk_times;
  std::vector<std::string> events;
  transfer_result result;
  time_point done_at;
  int completions = 0;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
};

/// A listening socket on 127.0.0.1 that accepts connections and, per
/// connection, reads the request head and then replies with scripted steps.
/// With no steps it never answers (a hanging server).
class scripted_server {
public:
  struct step {
    std::chrono::milliseconds delay;
    std::string bytes;
  };

  explicit scripted_server(std::vector<step> steps = {},
                           bool close_after = false)
      : steps_(std::move(steps)), close_after_(close_after) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 64);
    thread_ = std::thread{[this] { serve(); }};
  }

  ~scripted_server() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string{path};
  }

  /// Connections accepted so far.
  int accepted() const {
    return accepted_.load();
  }

  /// Connections whose client side went away (EOF or reset).
  int closed_by_client() const {
    return closed_by_client_.load();
  }

  /// The bytes of the last request read (head, then a Content-Length body).
  std::string last_request() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_request_;
  }

private:
  void serve() {
    std::vector<int> conns;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 5) > 0) {
        int c = accept(fd_, nullptr, nullptr);
        if (c >= 0) {
          ++accepted_;
          conns.push_back(c);
          answer(c);
        }
      }
      // Watch idle connections for the client closing them.
      for (auto& c : conns) {
        if (c < 0)
          continue;
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 0) > 0) {
          char buf[4096];
          auto n = recv(c, buf, sizeof(buf), MSG_DONTWAIT);
          if (n <= 0) {
            ++closed_by_client_;
            close(c);
            c = -1;
          }
        }
      }
    }
    for (auto c : conns)
      if (c >= 0)
        close(c);
  }

  void answer(int c) {
    // Read the request head, then as many body bytes as it announces.
    std::string req;
    char buf[4096];
    auto wanted = std::string::npos;
    while (req.size() < wanted && !stop_) {
      pollfd q{c, POLLIN, 0};
      if (poll(&q, 1, 5) <= 0)
        continue;
      auto n = recv(c, buf, sizeof(buf), 0);
      if (n <= 0)
        return;
      req.append(buf, static_cast<size_t>(n));
      if (auto end = req.find("\r\n\r\n");
          wanted == std::string::npos && end != std::string::npos)
        wanted = end + 4 + content_length(req.substr(0, end));
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      last_request_ = req;
    }
    for (auto& s : steps_) {
      // Sleep in slices so that the destructor does not wait for a step.
      for (auto until = clock_type::now() + s.delay;
           clock_type::now() < until && !stop_;)
        std::this_thread::sleep_for(2ms);
      if (stop_)
        return;
      if (send(c, s.bytes.data(), s.bytes.size(), MSG_NOSIGNAL) < 0)
        return;
    }
    if (close_after_)
      shutdown(c, SHUT_RDWR);
  }

  static size_t content_length(std::string head) {
    for (auto& ch : head)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto at = head.find("\r\ncontent-length:");
    return at == std::string::npos
               ? 0
               : std::stoul(head.substr(at + 17, head.find('\r', at + 2)));
  }

  std::vector<step> steps_;
  bool close_after_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_by_client_{0};
  mutable std::mutex mtx_;
  std::string last_request_;
  std::thread thread_;
};

/// A port on 127.0.0.1 that nobody listens on (bound, then released).
uint16_t closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

http_job get_job(std::string url, bool stream = false) {
  http_job job;
  job.request.method = "GET";
  job.request.url = std::move(url);
  job.stream = stream;
  return job;
}

/// Polls `holds` until it is true or `bound` passed; returns whether it
/// became true. The poll interval is no synchronisation: the condition is.
template <class Predicate>
bool eventually(Predicate holds, timespan bound = 5s) {
  for (auto until = clock_type::now() + bound; !holds();) {
    if (clock_type::now() >= until)
      return holds();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// Returns once the loops have handled everything submitted or cancelled
/// before the call: a job to a closed port, queued behind them on each loop
/// (jobs go to the loops in turn), completed.
void drain(transport& tr) {
  std::vector<std::shared_ptr<recording_sink>> barriers;
  for (size_t i = 0; i < tr.loops(); ++i) {
    barriers.push_back(std::make_shared<recording_sink>());
    tr.submit(
        get_job("http://127.0.0.1:" + std::to_string(closed_port()) + "/"),
        barriers.back());
  }
  for (auto& b : barriers)
    CAF_REQUIRE(b->wait());
}

long ms(timespan d) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

} // namespace

CAF_TEST(error names and classes) {
  CAF_CHECK_EQUAL(to_string(transport_error::none), "none");
  CAF_CHECK_EQUAL(to_string(transport_error::first_byte_timeout),
                  "first_byte_timeout");
  CAF_CHECK_EQUAL(to_string(transport_error::other), "other");
  using te = transport_error;
  for (auto e : {te::connect_timeout, te::first_byte_timeout, te::idle_timeout,
                 te::total_timeout})
    CAF_CHECK(classify_transport_error(e, "").cls == error_class::timeout);
  for (auto e : {te::connect_failed, te::dns, te::tls, te::send_failed,
                 te::recv_failed, te::other})
    CAF_CHECK(classify_transport_error(e, "").cls == error_class::connection);
  CAF_CHECK(classify_transport_error(te::too_large, "").cls
            == error_class::malformed);
  CAF_CHECK(classify_transport_error(te::cancelled, "").cls
            == error_class::cancelled);
  auto f = classify_transport_error(te::recv_failed, "connection reset");
  CAF_CHECK_EQUAL(f.code, "recv_failed");
  CAF_CHECK_EQUAL(f.message, "connection reset");
  CAF_CHECK_EQUAL(f.status, 0);
}

CAF_TEST(connection refused comes back as connect_failed at once) {
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  auto start = clock_type::now();
  tr.submit(get_job("http://127.0.0.1:" + std::to_string(closed_port()) + "/"),
            sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::connect_failed);
  CAF_CHECK_EQUAL(sink->result.response.status, 0);
  CAF_CHECK(!sink->result.detail.empty());
  CAF_CHECK_LESS(ms(sink->done_at - start), 1000);
  CAF_CHECK_EQUAL(tr.in_flight(), 0u);
}

CAF_TEST(a response arrives with status headers and body) {
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             "X-Custom-Name:  spaced value \r\n\r\nhello"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(srv.url()), sink);
  CAF_REQUIRE(sink->wait());
  auto& r = sink->result;
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(r.response.status, 200);
  CAF_CHECK_EQUAL(r.response.body, "hello");
  CAF_REQUIRE_EQUAL(r.response.headers.size(), 2u);
  CAF_CHECK_EQUAL(r.response.headers[1].name, "X-Custom-Name");
  CAF_CHECK_EQUAL(r.response.headers[1].value, "spaced value");
  CAF_CHECK(sink->events == std::vector<std::string>{"complete"});
}

CAF_TEST(an interim 100 head is dropped) {
  scripted_server srv{{{0ms, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                             "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n"
                             "\r\nnope"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(srv.url(), true), sink);
  CAF_REQUIRE(sink->wait());
  auto& r = sink->result;
  CAF_CHECK(r.error == transport_error::none);
  CAF_CHECK_EQUAL(r.response.status, 404);
  CAF_CHECK(!find_header(r.response.headers, "x-interim"));
  CAF_CHECK_EQUAL(sink->head_status, 404);
  // A non-2xx stream: no chunks, the error body comes with on_complete.
  CAF_CHECK(sink->chunks.empty());
  CAF_CHECK_EQUAL(r.response.body, "nope");
  CAF_CHECK((sink->events == std::vector<std::string>{"head", "complete"}));
}

CAF_TEST(a stream delivers head then chunks in order) {
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Type: text/event-stream\r\n\r\n"},
                       {30ms, "3\r\none\r\n"},
                       {30ms, "3\r\ntwo\r\n"},
                       {30ms, "0\r\n\r\n"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(srv.url(), true), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::none);
  CAF_CHECK_EQUAL(sink->head_status, 200);
  CAF_CHECK(find_header(sink->head_headers, "content-type")
            == std::optional<std::string_view>{"text/event-stream"});
  CAF_CHECK((sink->chunks == std::vector<std::string>{"one", "two"}));
  CAF_CHECK(
      (sink->events
       == std::vector<std::string>{"head", "chunk", "chunk", "complete"}));
  CAF_CHECK(sink->result.response.body.empty());
  CAF_CHECK_EQUAL(sink->result.response.status, 200);
  if (sink->chunk_times.size() == 2)
    CAF_CHECK_GREATER_OR_EQUAL(ms(sink->chunk_times[1] - sink->chunk_times[0]),
                               25);
}

CAF_TEST(a request goes out with its method headers and body) {
  scripted_server srv{
      {{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  http_job job;
  job.request.method = "POST";
  job.request.url = srv.url("/v1/chat");
  job.request.headers = {{"Content-Type", "application/json"},
                         {"X-Empty", ""},
                         {"Authorization", "Bearer a-rather-long-test-key"}};
  job.request.body = R"({"model":"m","stream":false})";
  tr.submit(std::move(job), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::none);
  CAF_CHECK_EQUAL(sink->result.response.body, "ok");
  auto req = srv.last_request();
  CAF_CHECK_EQUAL(req.rfind("POST /v1/chat HTTP/1.1\r\n", 0), 0u);
  for (const char* line :
       {"\r\nContent-Type: application/json\r\n", "\r\nX-Empty:\r\n",
        "\r\nAuthorization: Bearer a-rather-long-test-key\r\n",
        "\r\nContent-Length: 28\r\n"})
    CAF_CHECK_NOT_EQUAL(req.find(line), std::string::npos);
  CAF_CHECK_EQUAL(req.find("Expect:"), std::string::npos);
  auto end = req.find("\r\n\r\n");
  CAF_REQUIRE_NOT_EQUAL(end, std::string::npos);
  CAF_CHECK_EQUAL(req.substr(end + 4), R"({"model":"m","stream":false})");
}

CAF_TEST(a request body larger than the upload buffer arrives whole) {
  scripted_server srv{
      {{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  http_job job;
  job.request.method = "POST";
  job.request.url = srv.url();
  job.request.body.reserve(200000);
  for (int i = 0; job.request.body.size() < 200000; ++i)
    job.request.body += std::to_string(i) + ',';
  auto body = job.request.body;
  tr.submit(std::move(job), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::none);
  auto req = srv.last_request();
  auto end = req.find("\r\n\r\n");
  CAF_REQUIRE_NOT_EQUAL(end, std::string::npos);
  CAF_CHECK(req.substr(end + 4) == body);
}

CAF_TEST(the head of a stream comes again with its end) {
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             "X-Empty:\r\nX-Request-Id:  req-123 \r\n\r\n"
                             "3\r\none\r\n0\r\n\r\n"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(srv.url(), true), sink);
  CAF_REQUIRE(sink->wait());
  const auto& headers = sink->result.response.headers;
  CAF_REQUIRE_EQUAL(headers.size(), 3u);
  CAF_REQUIRE_EQUAL(sink->head_headers.size(), 3u);
  for (size_t i = 0; i < headers.size(); ++i) {
    CAF_CHECK_EQUAL(headers[i].name, sink->head_headers[i].name);
    CAF_CHECK_EQUAL(headers[i].value, sink->head_headers[i].value);
  }
  CAF_CHECK_EQUAL(headers[1].name, "X-Empty");
  CAF_CHECK_EQUAL(headers[1].value, "");
  CAF_CHECK_EQUAL(headers[2].value, "req-123");
  CAF_CHECK((sink->chunks == std::vector<std::string>{"one"}));
}

CAF_TEST(a handle reused after a stream reads a large body whole) {
  std::string big(40000, 'x');
  scripted_server stream_srv{{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                    "\r\none"}}};
  scripted_server plain_srv{
      {{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n" + big}}};
  transport tr;
  auto first = std::make_shared<recording_sink>();
  tr.submit(get_job(stream_srv.url(), true), first);
  CAF_REQUIRE(first->wait());
  CAF_CHECK((first->chunks == std::vector<std::string>{"one"}));
  auto second = std::make_shared<recording_sink>();
  tr.submit(get_job(plain_srv.url()), second);
  CAF_REQUIRE(second->wait());
  CAF_CHECK(second->result.error == transport_error::none);
  CAF_CHECK(second->result.response.body == big);
}

CAF_TEST(handles of streams cut short are not reused unsafely) {
  // Streams cancelled mid-body, then plain transfers with bodies far larger
  // than a stream's receive buffer: libcurl 7.88 corrupted the heap when a
  // handle removed mid-transfer was reset and reused (ASan found it under
  // integration.engine_crash_load).
  std::string big(40000, 'y');
  transport tr;
  for (int round = 0; round < 8; ++round) {
    scripted_server stream_srv{
        {{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\none\r\n"}}};
    auto cut = std::make_shared<recording_sink>();
    auto id = tr.submit(get_job(stream_srv.url(), true), cut);
    CAF_REQUIRE(eventually([&] { return cut->chunks_now() == 1; }));
    tr.cancel(id);
    CAF_REQUIRE(cut->wait());
    CAF_CHECK(cut->result.error == transport_error::cancelled);
    scripted_server plain_srv{
        {{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n" + big}}};
    auto plain = std::make_shared<recording_sink>();
    tr.submit(get_job(plain_srv.url()), plain);
    CAF_REQUIRE(plain->wait());
    CAF_CHECK(plain->result.error == transport_error::none);
    CAF_CHECK(plain->result.response.body == big);
  }
}

CAF_TEST(a reused handle sends each job with its own method and body) {
  // One loop: every job after the first runs on the first one's easy
  // handle, whose options persist between jobs.
  transport_config one;
  one.loops = 1;
  transport tr{one};
  auto send = [&tr](std::string method, std::string body, bool stream) {
    scripted_server srv{
        {{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}}};
    http_job job = get_job(srv.url("/x"), stream);
    job.request.method = std::move(method);
    job.request.body = std::move(body);
    auto sink = std::make_shared<recording_sink>();
    tr.submit(std::move(job), sink);
    CAF_REQUIRE(sink->wait());
    CAF_CHECK(sink->result.error == transport_error::none);
    return srv.last_request();
  };
  auto post = send("POST", "{\"a\":1}", false);
  CAF_CHECK_EQUAL(post.rfind("POST /x HTTP/1.1\r\n", 0), 0u);
  CAF_CHECK_NOT_EQUAL(post.find("\r\n\r\n{\"a\":1}"), std::string::npos);
  for (auto method : {"GET", "DELETE"}) {
    auto req = send(method, "", true);
    CAF_CHECK_EQUAL(req.rfind(std::string{method} + " /x HTTP/1.1\r\n", 0), 0u);
    CAF_CHECK_EQUAL(req.find("Content-Length"), std::string::npos);
    CAF_CHECK_EQUAL(req.substr(req.find("\r\n\r\n") + 4), "");
  }
  auto head = send("HEAD", "", false);
  CAF_CHECK_EQUAL(head.rfind("HEAD /x HTTP/1.1\r\n", 0), 0u);
  auto put = send("PUT", "later", false);
  CAF_CHECK_EQUAL(put.rfind("PUT /x HTTP/1.1\r\n", 0), 0u);
  CAF_CHECK_NOT_EQUAL(put.find("\r\n\r\nlater"), std::string::npos);
}

CAF_TEST(connections the server closes between requests are replaced) {
  // Idle keep-alive sockets stay in the loop's epoll set between requests.
  // Here the server closes each connection after its answer: the loop must
  // drop the dead socket without spinning on its end-of-file, and the new
  // socket libcurl opens for the next request (often under the same
  // descriptor number) must be watched again, or that request would hang.
  transport_config one;
  one.loops = 1;
  transport tr{one};
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}},
                      true};
  auto cpu_ms = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000L
           + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000L;
  };
  for (int round = 0; round < 12; ++round) {
    auto sink = std::make_shared<recording_sink>();
    tr.submit(get_job(srv.url()), sink);
    CAF_REQUIRE(sink->wait());
    CAF_CHECK(sink->result.error == transport_error::none);
    CAF_CHECK_EQUAL(sink->result.response.body, "ok");
    if (round % 4 == 3) {
      // Let the closed connection sit idle: a loop woken again and again by
      // its end-of-file would burn a core meanwhile.
      std::this_thread::sleep_for(50ms);
      auto before = cpu_ms();
      std::this_thread::sleep_for(300ms);
      CAF_CHECK_LESS(cpu_ms() - before, 150);
    }
  }
  CAF_CHECK_EQUAL(srv.accepted(), 12);
}

CAF_TEST(jobs spread over several loops and each cancel finds its loop) {
  transport_config two;
  two.loops = 2;
  transport tr{two};
  CAF_CHECK_EQUAL(tr.loops(), 2u);
  scripted_server slow{{{10s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}}};
  std::vector<std::shared_ptr<recording_sink>> sinks;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    sinks.push_back(std::make_shared<recording_sink>());
    ids.push_back(tr.submit(get_job(slow.url()), sinks.back()));
  }
  // Queued or running: cancelled either way, by the loop that has it (a
  // cancel sent to the wrong loop leaves the job waiting for the server).
  CAF_CHECK_EQUAL(tr.in_flight(), 4u);
  for (auto id : ids)
    tr.cancel(id);
  for (auto& s : sinks) {
    CAF_REQUIRE(s->wait());
    CAF_CHECK(s->result.error == transport_error::cancelled);
  }
  CAF_CHECK_EQUAL(tr.in_flight(), 0u);
}

CAF_TEST(the default loop count follows the cores) {
  CAF_CHECK_EQUAL(default_transport_loops(0), 1u);
  CAF_CHECK_EQUAL(default_transport_loops(2), 1u);
  CAF_CHECK_EQUAL(default_transport_loops(8), 2u);
  CAF_CHECK_EQUAL(default_transport_loops(256), 16u);
}

CAF_TEST(first byte timeout fires on time) {
  scripted_server srv; // never answers
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  auto job = get_job(srv.url());
  job.timeouts.first_byte = 100ms;
  auto start = clock_type::now();
  tr.submit(std::move(job), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::first_byte_timeout);
  auto took = ms(sink->done_at - start);
  CAF_CHECK_GREATER_OR_EQUAL(took, 100);
  CAF_CHECK_LESS(took, 400);
}

CAF_TEST(idle timeout fires after the last chunk) {
  scripted_server srv{
      {{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
       {0ms, "1\r\na\r\n"},
       {1000ms, "0\r\n\r\n"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  auto job = get_job(srv.url(), true);
  job.timeouts.first_byte = 1000ms;
  job.timeouts.idle = 80ms;
  tr.submit(std::move(job), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::idle_timeout);
  CAF_REQUIRE_EQUAL(sink->chunks.size(), 1u);
  auto idle = ms(sink->done_at - sink->chunk_times[0]);
  CAF_CHECK_GREATER_OR_EQUAL(idle, 80);
  CAF_CHECK_LESS(idle, 300);
}

CAF_TEST(total timeout bounds a slow non - streaming response) {
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"},
                       {1000ms, "cd"}}};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  auto job = get_job(srv.url());
  job.timeouts.total = 150ms;
  auto start = clock_type::now();
  tr.submit(std::move(job), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::total_timeout);
  CAF_CHECK_EQUAL(sink->result.response.status, 200);
  auto took = ms(sink->done_at - start);
  CAF_CHECK_GREATER_OR_EQUAL(took, 150);
  CAF_CHECK_LESS(took, 450);
}

CAF_TEST(a body over max_response_bytes fails with too_large) {
  std::string body(2000, 'x');
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                             "\r\n\r\n7d0\r\n"
                                 + body + "\r\n0\r\n\r\n"}}};
  transport_config cfg;
  cfg.max_response_bytes = 1000;
  transport tr{cfg};
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(srv.url()), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::too_large);
}

CAF_TEST(a connection closed mid body is recv_failed) {
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                             "partial"}},
                      true};
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(srv.url()), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::recv_failed);
  CAF_CHECK_EQUAL(sink->result.response.status, 200);
}

CAF_TEST(cancel frees the connection and completes once) {
  scripted_server srv; // hangs
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  auto id = tr.submit(get_job(srv.url()), sink);
  CAF_REQUIRE(eventually([&] { return srv.accepted() == 1; }));
  drain(tr);
  CAF_CHECK_EQUAL(sink->completions_now(), 0);
  auto cancelled_at = clock_type::now();
  tr.cancel(id);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::cancelled);
  CAF_CHECK_LESS(ms(sink->done_at - cancelled_at), 50);
  CAF_CHECK(eventually([&] { return srv.closed_by_client() == 1; }));
  tr.cancel(id); // again: no second completion
  drain(tr);
  CAF_CHECK_EQUAL(sink->completions_now(), 1);
  CAF_CHECK_EQUAL(tr.in_flight(), 0u);
}

CAF_TEST(cancel right after submit completes once with cancelled) {
  scripted_server srv; // hangs
  transport tr;
  std::vector<std::shared_ptr<recording_sink>> sinks;
  for (int i = 0; i < 20; ++i) {
    auto sink = std::make_shared<recording_sink>();
    sinks.push_back(sink);
    tr.cancel(tr.submit(get_job(srv.url()), sink));
  }
  for (auto& sink : sinks) {
    CAF_REQUIRE(sink->wait());
    CAF_CHECK(sink->result.error == transport_error::cancelled);
  }
  drain(tr);
  for (auto& sink : sinks)
    CAF_CHECK_EQUAL(sink->completions_now(), 1);
}

namespace {

/// Runs `f` with stderr redirected to a temporary file; returns what it wrote.
template <class F>
std::string capture_stderr(F f) {
  std::fflush(stderr);
  auto* tmp = std::tmpfile();
  int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(tmp), STDERR_FILENO);
  f();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), tmp)) > 0;)
    out.append(buf, n);
  std::fclose(tmp);
  return out;
}

} // namespace

CAF_TEST(the destructor completes running and queued jobs with cancelled) {
  scripted_server srv; // hangs
  std::vector<std::shared_ptr<recording_sink>> running;
  std::vector<std::shared_ptr<recording_sink>> queued;
  {
    transport tr;
    for (int i = 0; i < 5; ++i) {
      auto sink = std::make_shared<recording_sink>();
      running.push_back(sink);
      tr.submit(get_job(srv.url()), sink);
    }
    // Every transfer started: the server holds its five connections.
    CAF_REQUIRE(eventually([&] { return srv.accepted() == 5; }));
    CAF_CHECK_EQUAL(tr.in_flight(), 5u);
    CAF_CHECK_EQUAL(srv.closed_by_client(), 0);
    for (int i = 0; i < 3; ++i) {
      auto sink = std::make_shared<recording_sink>();
      queued.push_back(sink);
      tr.submit(get_job(srv.url()), sink);
    }
  }
  for (auto& sink : running) {
    CAF_CHECK_EQUAL(sink->completions_now(), 1);
    CAF_CHECK(sink->result.error == transport_error::cancelled);
    CAF_CHECK_EQUAL(sink->result.detail, "transport stopped");
  }
  // The started transfers' connections were freed, not left to the server.
  CAF_CHECK(eventually([&] { return srv.closed_by_client() >= 5; }));
  // The jobs submitted just before the end completed too, whether or not
  // the loop saw them before it stopped.
  for (auto& sink : queued) {
    CAF_CHECK_EQUAL(sink->completions_now(), 1);
    CAF_CHECK(sink->result.error == transport_error::cancelled);
  }
}

CAF_TEST(a transport that cannot start fails its jobs instead of aborting) {
  transport warm; // libcurl initialised with the usual limits
  rlimit saved{};
  CAF_REQUIRE_EQUAL(getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::optional<transport> broken;
  auto out = capture_stderr([&] {
    // Allow no further file descriptor: every number below the lowest free
    // one is taken, so the transport's eventfd cannot be made.
    int lowest_free = ::dup(0);
    ::close(lowest_free);
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    setrlimit(RLIMIT_NOFILE, &tight);
    broken.emplace();
    setrlimit(RLIMIT_NOFILE, &saved);
  });
  CAF_CHECK_EQUAL(out, "");
  CAF_CHECK_EQUAL(broken->start_error(),
                  "eventfd failed (errno 24: Too many open files)");
  CAF_CHECK_EQUAL(warm.start_error(), "");
  auto sink = std::make_shared<recording_sink>();
  auto id = broken->submit(get_job("http://127.0.0.1:1/"), sink);
  // Completed inside submit, with the reason.
  CAF_CHECK_EQUAL(sink->completions_now(), 1);
  CAF_CHECK(sink->result.error == transport_error::other);
  CAF_CHECK_EQUAL(sink->result.detail, "transport unavailable: eventfd failed "
                                       "(errno 24: Too many open files)");
  broken->cancel(id);
  CAF_CHECK_EQUAL(sink->completions_now(), 1);
  CAF_CHECK_EQUAL(broken->in_flight(), 0u);
}

CAF_TEST(the transport writes nothing to stderr even with tls checks off) {
  auto quiet = capture_stderr([] { transport t{transport_config{}}; });
  CAF_CHECK_EQUAL(quiet, "");
  transport_config insecure;
  insecure.insecure_skip_verify = true;
  auto loud = capture_stderr([&] { transport t{insecure}; });
  CAF_CHECK_EQUAL(loud, "");
}

CAF_TEST(a proxy in the environment is used and no_proxy is honoured) {
  // The transport reads the proxy variables when it is made.
  scripted_server proxy{
      {{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied"}}};
  auto target = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
  setenv("http_proxy", proxy.url("").c_str(), 1);
  {
    transport tr;
    auto sink = std::make_shared<recording_sink>();
    tr.submit(get_job(target), sink);
    CAF_REQUIRE(sink->wait());
    CAF_CHECK_EQUAL(sink->result.response.body, "proxied");
    CAF_CHECK_EQUAL(
        proxy.last_request().rfind("GET " + target + " HTTP/1.1", 0), 0u);
  }
  setenv("no_proxy", "127.0.0.1", 1);
  {
    transport tr;
    auto sink = std::make_shared<recording_sink>();
    tr.submit(get_job(target), sink);
    CAF_REQUIRE(sink->wait());
    CAF_CHECK(sink->result.error == transport_error::connect_failed);
  }
  unsetenv("no_proxy");
  unsetenv("http_proxy");
  // Without a proxy variable the request goes straight to its host.
  transport tr;
  auto sink = std::make_shared<recording_sink>();
  tr.submit(get_job(target), sink);
  CAF_REQUIRE(sink->wait());
  CAF_CHECK(sink->result.error == transport_error::connect_failed);
  CAF_CHECK_EQUAL(proxy.accepted(), 1);
}

CAF_TEST(every url reaches its host whether the loop keeps it parsed or not ) {
  // The loop keeps up to 256 URLs parsed; later ones, and one without a
  // scheme (libcurl guesses http), go to libcurl as strings.
  scripted_server srv{{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             "Connection: close\r\n\r\nok"}},
                      true};
  transport tr;
  auto fetch = [&](const std::string& url, const std::string& path) {
    auto sink = std::make_shared<recording_sink>();
    tr.submit(get_job(url), sink);
    CAF_REQUIRE(sink->wait());
    CAF_CHECK(sink->result.error == transport_error::none);
    CAF_CHECK_EQUAL(sink->result.response.body, "ok");
    CAF_CHECK_EQUAL(srv.last_request().rfind("GET " + path + " HTTP/1.1", 0),
                    0u);
  };
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 300; ++i) {
      auto path = "/p" + std::to_string(i) + "?q=" + std::to_string(i % 7);
      fetch(srv.url(path), path);
    }
  auto bare = srv.url("/bare").substr(std::string_view{"http://"}.size());
  fetch(bare, "/bare");
  CAF_CHECK_EQUAL(srv.accepted(), 601);
}

CAF_TEST(each loop thread is named sy transport) {
  // top -H, perf and the benchmarks' per-thread accounting tell the
  // transport's CPU from the rest by this name.
  auto named = [] {
    int n = 0;
    for (const auto& task :
         std::filesystem::directory_iterator{"/proc/self/task"}) {
      std::ifstream comm{task.path() / "comm"};
      std::string name;
      std::getline(comm, name);
      n += name == "sy-transport" ? 1 : 0;
    }
    return n;
  };
  auto before = named();
  {
    transport_config cfg;
    cfg.loops = 3;
    transport tr{cfg};
    CAF_REQUIRE_EQUAL(tr.loops(), 3u);
    // A loop names itself as it starts: give it the moment it needs.
    for (int i = 0; i < 200 && named() != before + 3; ++i)
      std::this_thread::sleep_for(5ms);
    CAF_CHECK_EQUAL(named(), before + 3);
  }
  // Joined; the kernel may list an exiting thread a moment longer.
  for (int i = 0; i < 200 && named() != before; ++i)
    std::this_thread::sleep_for(5ms);
  CAF_CHECK_EQUAL(named(), before);
}
