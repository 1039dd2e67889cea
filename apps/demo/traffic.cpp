#include "traffic.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

namespace switchyard::demo {

namespace {

/// A short question; each differs so that the mocks give different answers.
chat_request make_request(size_t i) {
  chat_request req;
  message msg;
  msg.from = role::user;
  msg.text = "Question " + std::to_string(i)
             + ": name one reason to keep a fallback provider.";
  req.messages.push_back(std::move(msg));
  req.max_tokens = 64;
  return req;
}

/// Says in two words why a target was passed over without a request, from
/// the engine's attempt record.
std::string why_passed_over(const std::string& reason) {
  auto has
      = [&](std::string_view s) { return reason.find(s) != std::string::npos; };
  if (has("circuit breaker open"))
    return "breaker open";
  if (has("breaker_open"))
    return "breaker half-open";
  if (has("local_rate_limit"))
    return "rate limit";
  if (has("queue_full"))
    return "in-flight cap";
  if (has("marked down"))
    return "marked down";
  return "rejected";
}

call_outcome to_outcome(call_result& r, timespan latency) {
  call_outcome out;
  out.latency = latency;
  const auto& trail = r ? r->attempts : r.error().attempts;
  for (const auto& a : trail) {
    if (a.status == -1)
      out.passed_over.emplace_back(a.deployment, why_passed_over(a.reason));
    else
      ++out.attempts;
  }
  if (r) {
    out.answered = true;
    out.deployment
        = r->attempts.empty() ? r->provider : r->attempts.back().deployment;
  } else {
    out.error = to_string(r.error().failure);
  }
  return out;
}

/// The shared state between the sending loop and the engine's callbacks.
struct run_state {
  std::mutex mtx;
  std::condition_variable cv;
  size_t in_flight = 0;
  std::vector<call_outcome> calls;
};

/// Renders the progress of the last second: who answered, who was skipped.
class progress {
public:
  explicit progress(std::vector<std::string> deployments)
      : deployments_(std::move(deployments)) {
    // nop
  }

  /// Returns the line for the calls in `calls` since the last tick.
  std::string tick(const std::vector<call_outcome>& calls, size_t in_flight,
                   size_t total) {
    std::map<std::string, size_t> answered;
    std::map<std::string, std::map<std::string, size_t>> passed;
    size_t failed = 0;
    for (size_t i = seen_; i < calls.size(); ++i) {
      if (calls[i].answered)
        ++answered[calls[i].deployment];
      else
        ++failed;
      for (const auto& [dep, why] : calls[i].passed_over)
        ++passed[dep][why];
    }
    seen_ = calls.size();
    std::string line = "answers:";
    for (const auto& d : deployments_)
      line += " " + d + " " + std::to_string(answered[d]);
    if (failed > 0)
      line += ", FAILED " + std::to_string(failed);
    for (const auto& [dep, whys] : passed) {
      line += "; passed over " + dep + ":";
      for (const auto& [why, n] : whys)
        line += " " + std::to_string(n) + "x " + why;
    }
    line += " | done " + std::to_string(calls.size()) + "/"
            + std::to_string(total) + ", in flight "
            + std::to_string(in_flight);
    return line;
  }

private:
  std::vector<std::string> deployments_;
  size_t seen_ = 0;
};

void flush(live_log& log, bool live) {
  auto lines = log.take_lines();
  if (!live)
    return;
  for (const auto& line : lines)
    std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

} // namespace

traffic_result run_traffic(engine& eng, const traffic_options& opts,
                           live_log& log, const std::atomic<bool>& stop) {
  // Shared with the callbacks: a call that outlives the wait below must not
  // touch a dead frame.
  auto shared = std::make_shared<run_state>();
  auto& st = *shared;
  st.calls.reserve(opts.requests);
  progress prog{opts.deployments};
  auto start = clock_type::now();
  auto interval
      = opts.spread / static_cast<int64_t>(std::max<size_t>(1, opts.requests));
  auto next_tick = start + std::chrono::seconds{1};
  auto poll = std::chrono::milliseconds{20};
  auto maybe_tick = [&](time_point now) {
    if (now < next_tick)
      return;
    next_tick += std::chrono::seconds{1};
    std::string line;
    {
      std::lock_guard guard{st.mtx};
      line = prog.tick(st.calls, st.in_flight, opts.requests);
    }
    log.note(log.stamp(now) + "  " + line);
  };
  size_t sent = 0;
  while (sent < opts.requests && !stop.load()) {
    auto now = clock_type::now();
    maybe_tick(now);
    flush(log, opts.live);
    auto due = start + interval * static_cast<int64_t>(sent);
    std::unique_lock guard{st.mtx};
    if (now < due || st.in_flight >= opts.concurrency) {
      st.cv.wait_until(guard,
                       std::min(due > now ? due : now + poll, now + poll));
      continue;
    }
    ++st.in_flight;
    guard.unlock();
    auto begun = clock_type::now();
    eng.complete(make_request(sent), call_options{},
                 [shared, &log, begun](call_result r) {
                   auto now = clock_type::now();
                   auto outcome = to_outcome(r, now - begun);
                   if (!outcome.answered)
                     log.note(log.stamp(now) + "  FAILED   " + outcome.error);
                   std::lock_guard guard{shared->mtx};
                   shared->calls.push_back(std::move(outcome));
                   --shared->in_flight;
                   shared->cv.notify_all();
                 });
    ++sent;
  }
  // Wait for the calls still running; the route's deadline bounds them, and
  // the engine's shutdown bounds the rest.
  auto give_up = clock_type::now() + std::chrono::seconds{25};
  for (;;) {
    auto now = clock_type::now();
    maybe_tick(now);
    flush(log, opts.live);
    std::unique_lock guard{st.mtx};
    if (st.in_flight == 0 || now >= give_up)
      break;
    st.cv.wait_for(guard, poll);
  }
  auto now = clock_type::now();
  {
    std::lock_guard guard{st.mtx};
    if (opts.live)
      log.note(log.stamp(now) + "  "
               + prog.tick(st.calls, st.in_flight, opts.requests));
  }
  flush(log, opts.live);
  traffic_result out;
  out.elapsed = now - start;
  out.interrupted = stop.load();
  std::lock_guard guard{st.mtx};
  out.calls = std::move(st.calls);
  return out;
}

} // namespace switchyard::demo
