#include "switchyard/transport.hpp"
#include "target.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace switchyard::load {

namespace {

/// The failure class of an HTTP status, as the engine names them.
std::string status_class(int status) {
  if (status == 429)
    return "rate_limited";
  if (status == 503 || status == 529)
    return "overloaded";
  if (status == 401 || status == 403)
    return "auth";
  if (status == 408 || status == 504)
    return "timeout";
  if (status >= 500)
    return "server_error";
  return "bad_request";
}

/// The value of a top-level string field `"name":"value"` in a JSON body,
/// found without parsing the body (good enough for `model`).
std::string string_field(std::string_view body, std::string_view name) {
  std::string key = "\"" + std::string{name} + "\"";
  auto at = body.find(key);
  if (at == std::string_view::npos)
    return {};
  at = body.find('"', body.find(':', at + key.size()));
  if (at == std::string_view::npos)
    return {};
  auto end = body.find('"', at + 1);
  return end == std::string_view::npos
             ? std::string{}
             : std::string{body.substr(at + 1, end - at - 1)};
}

/// Reads one transfer: a plain answer, or an SSE stream of OpenAI chunks
/// (a piece of content per `data:` event, `[DONE]` at the end).
class http_request_sink final : public transfer_sink {
public:
  http_request_sink(result_callback done, bool stream,
                    std::function<void()> ended)
      : done_(std::move(done)), stream_(stream), ended_(std::move(ended)) {
    // nop
  }

  void on_head(int status, const header_list&) override {
    status_ = status;
  }

  void on_chunk(std::string_view chunk) override {
    buf_.append(chunk);
    size_t at = 0;
    for (auto nl = buf_.find('\n', at); nl != std::string::npos;
         nl = buf_.find('\n', at)) {
      on_line(std::string_view{buf_}.substr(at, nl - at));
      at = nl + 1;
    }
    buf_.erase(0, at);
  }

  void on_complete(transfer_result r) override {
    if (r.error != transport_error::none) {
      res_.error = std::string{to_string(
          classify_transport_error(r.error, std::move(r.detail)).cls)};
    } else if (r.response.status < 200 || r.response.status >= 300) {
      res_.error = status_class(r.response.status);
    } else if (stream_ && !saw_done_) {
      res_.error = "malformed";
    } else {
      res_.ok = true;
      if (!stream_)
        res_.deployment = string_field(r.response.body, "model");
    }
    done_(std::move(res_));
    ended_();
  }

private:
  void on_line(std::string_view line) {
    if (line.substr(0, 5) != "data:")
      return;
    auto data = line.substr(5);
    if (!data.empty() && data.front() == ' ')
      data.remove_prefix(1);
    if (data.substr(0, 6) == "[DONE]") {
      saw_done_ = true;
      return;
    }
    if (res_.deployment.empty())
      res_.deployment = string_field(data, "model");
    auto content = data.find("\"content\":\"");
    if (content == std::string_view::npos
        || data.substr(content + 11, 1) == "\"")
      return;
    auto now = clock_type::now();
    if (!res_.first_token)
      res_.first_token = now;
    else
      res_.gaps.push_back(now - last_);
    last_ = now;
    ++res_.tokens;
  }

  result_callback done_;
  bool stream_;
  /// Frees the request's connection slot.
  std::function<void()> ended_;
  int status_ = 0;
  bool saw_done_ = false;
  std::string buf_;
  time_point last_{};
  request_result res_;
};

/// At most `limit` requests in the transport, the rest wait here in order:
/// the driver's connection pool (HTTP/1.1: one request per connection).
/// Without it an overloaded upstream made the driver open thousands of
/// connections, and libcurl 7.88's cost per transfer grows with them (its
/// connection search, and its own queue of transfers over the host limit,
/// which curl_multi_remove_handle walks on every transfer): 10,000 req/s
/// against a mock that managed 5,000 collapsed to 300. A request that waits
/// here still counts its latency from its scheduled time.
struct connection_gate {
  struct waiting {
    http_job job;
    std::shared_ptr<transfer_sink> sink;
  };

  explicit connection_gate(size_t max) : limit(max) {
    // nop
  }

  /// Takes a slot for a new request; false: queued `w` instead.
  bool enter(waiting& w) {
    std::lock_guard guard{mtx};
    if (running < limit && queue.empty()) {
      ++running;
      return true;
    }
    ++waited;
    queue.push_back(std::move(w));
    return false;
  }

  /// Frees a slot, or hands it to the next waiting request (returned).
  std::optional<waiting> leave() {
    std::lock_guard guard{mtx};
    if (!stopped && !queue.empty()) {
      auto next = std::move(queue.front());
      queue.pop_front();
      return next;
    }
    --running;
    return std::nullopt;
  }

  std::mutex mtx;
  const size_t limit;
  size_t running = 0;
  std::deque<waiting> queue;
  uint64_t waited = 0;
  bool stopped = false;
};

class http_target final : public target {
public:
  http_target(std::string url, std::string model, bool stream, timespan timeout,
              size_t connections)
      : url_(std::move(url)), model_(std::move(model)), stream_(stream),
        timeout_(timeout),
        gate_(std::make_shared<connection_gate>(connections)) {
    if (url_.size() < 17
        || url_.compare(url_.size() - 17, 17, "/chat/completions") != 0) {
      while (!url_.empty() && url_.back() == '/')
        url_.pop_back();
      url_ += "/chat/completions";
    }
    transport_config cfg;
    cfg.max_host_connections = static_cast<long>(connections);
    // A libcurl loop per `connections_per_loop` connections: libcurl 7.88
    // walks the host's connections in use for each new transfer, so one loop
    // holding 1,024 busy ones cost more per request than a fast upstream
    // did, fell behind and stayed behind (20,000 req/s against the mock: one
    // loop collapsed to ~19k with requests 0.4 s late, four loops kept up).
    cfg.loops = std::clamp<size_t>((connections + connections_per_loop - 1)
                                       / connections_per_loop,
                                   1, max_loops);
    client_ = std::make_unique<transport>(cfg);
  }

  void send(uint64_t, const std::string& prompt,
            result_callback done) override {
    http_job job;
    job.request.method = "POST";
    job.request.url = url_;
    job.request.body = body_of(prompt);
    job.request.headers.push_back({"content-type", "application/json"});
    job.timeouts.total = timeout_;
    job.stream = stream_;
    auto gate = gate_;
    auto* client = client_.get();
    // The sink's end hook starts the next waiting request on the freed
    // connection (on the transport's thread; `stop` empties the queue
    // before the transport goes).
    connection_gate::waiting w{std::move(job),
                               std::make_shared<http_request_sink>(
                                   std::move(done), stream_, [gate, client] {
                                     if (auto next = gate->leave())
                                       client->submit(std::move(next->job),
                                                      std::move(next->sink));
                                   })};
    if (gate_->enter(w))
      client_->submit(std::move(w.job), std::move(w.sink));
  }

  void stop() override {
    {
      // Waiting requests are dropped (the driver counts them unfinished).
      std::lock_guard guard{gate_->mtx};
      gate_->stopped = true;
      gate_->queue.clear();
    }
    client_.reset();
  }

  uint64_t waited_for_connection() const override {
    std::lock_guard guard{gate_->mtx};
    return gate_->waited;
  }

private:
  /// The request body for `prompt`. A run cycles through a fixed list of
  /// prompts: each body is built once (up to `max_cached_bodies`), not
  /// serialised anew for every request.
  std::string body_of(const std::string& prompt) {
    std::lock_guard guard{bodies_mtx_};
    if (auto i = bodies_.find(prompt); i != bodies_.end())
      return i->second;
    nlohmann::json body{
        {"model", model_},
        {"messages", {{{"role", "user"}, {"content", prompt}}}}};
    if (stream_)
      body["stream"] = true;
    auto text = body.dump();
    if (bodies_.size() < max_cached_bodies)
      bodies_.emplace(prompt, text);
    return text;
  }

  static constexpr size_t max_cached_bodies = 4096;
  static constexpr size_t connections_per_loop = 256;
  static constexpr size_t max_loops = 16;

  std::mutex bodies_mtx_;
  std::unordered_map<std::string, std::string> bodies_;
  std::string url_;
  std::string model_;
  bool stream_;
  timespan timeout_;
  std::shared_ptr<connection_gate> gate_;
  std::unique_ptr<transport> client_;
};

} // namespace

std::unique_ptr<target> make_http_target(std::string url, std::string model,
                                         bool stream, timespan timeout,
                                         size_t connections) {
  return std::make_unique<http_target>(std::move(url), std::move(model), stream,
                                       timeout,
                                       std::max<size_t>(connections, 1));
}

} // namespace switchyard::load
