#pragma once

// Measuring helpers shared by the benchmarks: CPU time, latency quantiles,
// the request every benchmark sends and the canned OpenAI answer of the
// in-process upstreams.

#include "switchyard/model.hpp"
#include "switchyard/time.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <sys/resource.h>
#include <vector>

namespace switchyard::bench {

/// The chat request every benchmark sends.
inline chat_request make_request() {
  chat_request req;
  message msg;
  msg.text = "Why keep a fallback provider?";
  req.messages.push_back(std::move(msg));
  req.max_tokens = 64;
  return req;
}

/// A complete OpenAI chat completion, as an in-process upstream answers.
inline constexpr std::string_view canned_body
    = R"({"id":"chatcmpl-bench","object":"chat.completion","created":1,)"
      R"("model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":)"
      R"("assistant","content":"A fallback keeps answering."},)"
      R"("finish_reason":"stop"}],"usage":{"prompt_tokens":9,)"
      R"("completion_tokens":4,"total_tokens":13}})";

/// Returns this process's user + system CPU time in seconds.
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

/// Returns `d` in microseconds.
inline double us(timespan d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

/// Returns the `q` quantile (0..1) of sorted latencies; zero when empty.
inline timespan quantile(const std::vector<timespan>& sorted, double q) {
  if (sorted.empty())
    return {};
  auto i = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

} // namespace switchyard::bench
