#include "integration/support_engine.hpp"

#include "integration/support_http.hpp"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <sstream>
#include <thread>

#include <caf/test/unit_test.hpp>

namespace switchyard::test {

using steady = std::chrono::steady_clock;

// -- event_recorder -----------------------------------------------------------

void event_recorder::on_event(const engine_event& ev) {
  std::lock_guard guard{mtx_};
  events_.push_back(ev);
}

std::vector<engine_event> event_recorder::events() const {
  std::lock_guard guard{mtx_};
  return events_;
}

void event_recorder::clear() {
  std::lock_guard guard{mtx_};
  events_.clear();
}

// -- requests, mocks and engines ----------------------------------------------

chat_request user_request(std::string text) {
  chat_request req;
  message msg;
  msg.from = role::user;
  msg.text = std::move(text);
  req.messages.push_back(std::move(msg));
  return req;
}

nlohmann::json mock_stats(const mock_server& m) {
  auto res = http_get(m.base_url() + "/mock/stats");
  if (res.status != 200)
    CAF_FAIL("GET /mock/stats: status " << res.status << " " << res.error);
  return nlohmann::json::parse(res.body);
}

int64_t mock_total(const mock_server& m) {
  return mock_stats(m)["total"].get<int64_t>();
}

void load_scenario(const mock_server& m, const nlohmann::json& scenario) {
  auto res = http_post(m.base_url() + "/mock/scenario", scenario.dump());
  if (res.status != 200)
    CAF_FAIL("POST /mock/scenario: status " << res.status << " " << res.body);
}

nlohmann::json mock_provider(const mock_server& m, std::string_view kind,
                             nlohmann::json headers, std::string_view path) {
  return {{"kind", kind},
          {"base_url", m.base_url() + std::string{path}},
          {"headers", std::move(headers)}};
}

std::unique_ptr<engine> make_engine(const nlohmann::json& config,
                                    std::shared_ptr<event_sink> events) {
  engine_options opts;
  opts.events = std::move(events);
  auto eng = engine::from_json(config.dump(), std::move(opts));
  if (!eng)
    CAF_FAIL("cannot build the engine: " << eng.error());
  return std::move(*eng);
}

deployment_status status_of(const engine& eng, std::string_view name) {
  for (auto& st : eng.status().deployments)
    if (st.name == name)
      return st;
  CAF_FAIL("no deployment named " << name);
}

// -- running calls ------------------------------------------------------------

namespace {

/// Shared with the callbacks, so that a late callback (after a timeout)
/// writes into live memory.
struct call_board {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<call_outcome> outcomes;
  size_t running = 0;
  size_t done = 0;
};

std::chrono::milliseconds since(steady::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now()
                                                               - t0);
}

} // namespace

std::vector<call_outcome>
run_calls(engine& eng, size_t n, size_t concurrency,
          const std::function<chat_request(size_t)>& make,
          const call_options& opts, std::chrono::milliseconds timeout) {
  auto board = std::make_shared<call_board>();
  board->outcomes.resize(n);
  auto deadline = steady::now() + timeout;
  for (size_t i = 0; i < n; ++i) {
    {
      std::unique_lock guard{board->mtx};
      if (!board->cv.wait_until(guard, deadline,
                                [&] { return board->running < concurrency; }))
        break;
      ++board->running;
    }
    auto t0 = steady::now();
    eng.complete(make(i), opts, [board, i, t0](call_result r) {
      std::lock_guard guard{board->mtx};
      board->outcomes[i].result = std::move(r);
      board->outcomes[i].elapsed = since(t0);
      --board->running;
      ++board->done;
      board->cv.notify_all();
    });
  }
  std::unique_lock guard{board->mtx};
  board->cv.wait_until(guard, deadline, [&] { return board->done == n; });
  return board->outcomes;
}

call_outcome run_call(engine& eng, chat_request req, call_options opts,
                      std::chrono::milliseconds timeout) {
  auto t0 = steady::now();
  auto fut = eng.complete(std::move(req), std::move(opts));
  if (fut.wait_for(timeout) != std::future_status::ready)
    CAF_FAIL("the call did not complete within " << timeout.count() << " ms");
  call_outcome out;
  out.result = fut.get();
  out.elapsed = since(t0);
  return out;
}

// -- inspecting results -------------------------------------------------------

std::string describe(const std::vector<attempt_record>& trail) {
  std::ostringstream out;
  for (const auto& a : trail) {
    out << "[" << a.deployment << " status=" << a.status;
    if (a.cls)
      out << " " << switchyard::to_string(*a.cls);
    out << " "
        << std::chrono::duration_cast<std::chrono::milliseconds>(a.latency)
               .count()
        << "ms";
    if (!a.reason.empty())
      out << " \"" << a.reason << "\"";
    out << "] ";
  }
  return out.str();
}

const std::vector<attempt_record>& trail_of(const call_result& r) {
  return r ? r->attempts : r.error().attempts;
}

std::string answered_by(const call_result& r) {
  if (!r || r->attempts.empty())
    return {};
  return r->attempts.back().deployment;
}

// -- streamed calls -----------------------------------------------------------

bool is_terminal(const stream_event& ev) {
  return std::holds_alternative<stream_end>(ev)
         || std::holds_alternative<stream_error>(ev);
}

std::shared_ptr<stream_capture> stream_capture::make() {
  return std::shared_ptr<stream_capture>{new stream_capture};
}

stream_callback stream_capture::callback() {
  return [self = shared_from_this()](stream_event ev) {
    self->add(std::move(ev));
  };
}

void stream_capture::add(stream_event ev) {
  std::lock_guard guard{mtx_};
  if (is_terminal(ev) && !done_at_)
    done_at_ = steady::now();
  events_.push_back(std::move(ev));
  cv_.notify_all();
}

bool stream_capture::wait_until(
    const std::function<bool(const std::vector<stream_event>&)>& pred,
    std::chrono::milliseconds timeout) const {
  std::unique_lock guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] { return pred(events_); });
}

bool stream_capture::wait_done(std::chrono::milliseconds timeout) const {
  return wait_until(
      [](const std::vector<stream_event>& evs) {
        return std::any_of(evs.begin(), evs.end(),
                           [](const auto& ev) { return is_terminal(ev); });
      },
      timeout);
}

std::vector<stream_event> stream_capture::events() const {
  std::lock_guard guard{mtx_};
  return events_;
}

std::optional<steady::time_point> stream_capture::done_at() const {
  std::lock_guard guard{mtx_};
  return done_at_;
}

std::vector<stream_event> read_all(stream_reader& reader,
                                   std::chrono::milliseconds timeout) {
  std::vector<stream_event> out;
  auto deadline = steady::now() + timeout;
  while (!reader.done()) {
    auto now = steady::now();
    if (now >= deadline)
      break;
    if (auto ev = reader.next(deadline - now))
      out.push_back(std::move(*ev));
  }
  return out;
}

std::string text_of(const std::vector<stream_event>& evs) {
  std::string out;
  for (const auto& t : events_of<text_delta>(evs))
    out += t.text;
  return out;
}

namespace {

void describe_usage(std::ostream& out, const std::optional<usage>& u) {
  if (u)
    out << " " << u->prompt_tokens << "+" << u->completion_tokens << "="
        << u->total_tokens;
  else
    out << " no-usage";
}

struct event_printer {
  std::ostream& out;

  void operator()(const stream_start& x) {
    out << "start(" << x.provider << " " << x.model << ")";
  }

  void operator()(const text_delta& x) {
    out << "text(\"" << x.text << "\")";
  }

  void operator()(const tool_call_delta& x) {
    out << "tool(" << x.index << " " << x.name << " " << x.arguments << ")";
  }

  void operator()(const stream_notice& x) {
    out << "notice(" << x.kind << " " << x.from << "->" << x.to << ": "
        << x.message << ")";
  }

  void operator()(const stream_end& x) {
    out << "end(" << switchyard::to_string(x.finish);
    describe_usage(out, x.usage);
    out << " " << describe(x.attempts) << ")";
  }

  void operator()(const stream_error& x) {
    out << "error(" << switchyard::to_string(x.failure) << " "
        << describe(x.attempts) << ")";
  }
};

} // namespace

std::string describe(const std::vector<stream_event>& evs) {
  std::ostringstream out;
  for (const auto& ev : evs) {
    std::visit(event_printer{out}, ev);
    out << " ";
  }
  return out.str();
}

} // namespace switchyard::test
