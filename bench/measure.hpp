#pragma once

// Measuring helpers shared by the benchmarks: CPU time, latency quantiles,
// the request every benchmark sends and the canned OpenAI answer of the
// in-process upstreams.

#include "switchyard/model.hpp"
#include "switchyard/time.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <unistd.h>
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

/// What the threads of one name have spent so far: CPU time and context
/// switches (voluntary and involuntary).
struct thread_usage {
  double user_s = 0;
  double sys_s = 0;
  uint64_t voluntary = 0;
  uint64_t involuntary = 0;
};

/// Per thread name (the transport's loops are `sy-transport`, CAF's workers
/// `caf.multiplexer`), the sums over this process's live threads, read from
/// /proc/self/task (clock-tick resolution: compare over seconds, not calls).
using thread_usages = std::map<std::string, thread_usage>;

inline thread_usages thread_usage_now() {
  thread_usages out;
  auto tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator{"/proc/self/task", ec}) {
    std::ifstream stat{task.path() / "stat"};
    std::string line;
    if (!std::getline(stat, line))
      continue; // the thread ended meanwhile
    auto open = line.find('(');
    auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    auto& u = out[line.substr(open + 1, close - open - 1)];
    // After the name: state (field 3) ... utime (14), stime (15).
    std::istringstream rest{line.substr(close + 2)};
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14)
        u.user_s += std::stod(field) / tick;
      else if (i == 15)
        u.sys_s += std::stod(field) / tick;
    }
    std::ifstream status{task.path() / "status"};
    while (std::getline(status, line)) {
      auto value = [&] { return std::stoull(line.substr(line.find(':') + 1)); };
      if (line.starts_with("voluntary_ctxt_switches:"))
        u.voluntary += value();
      else if (line.starts_with("nonvoluntary_ctxt_switches:"))
        u.involuntary += value();
    }
  }
  return out;
}

/// Prints, per thread name, what its threads spent per call between `before`
/// and `after`: CPU µs (user + system) and context switches. Only threads
/// alive at both ends count in full: one that ended in between is missing
/// from `after`, and its name then shows less than its threads spent.
inline void print_thread_usage(const thread_usages& before,
                               const thread_usages& after, double calls) {
  if (calls <= 0)
    return;
  for (const auto& [name, a] : after) {
    thread_usage b;
    if (auto i = before.find(name); i != before.end())
      b = i->second;
    auto user = (a.user_s - b.user_s) * 1e6 / calls;
    auto sys = (a.sys_s - b.sys_s) * 1e6 / calls;
    if (user + sys < 0.05)
      continue;
    std::printf(
        "      %-16s %6.1f us CPU/call (user %5.1f, sys %5.1f)  "
        "switches/call: %.3f voluntary, %.3f involuntary\n",
        name.c_str(), user + sys, user, sys,
        (static_cast<double>(a.voluntary) - static_cast<double>(b.voluntary))
            / calls,
        (static_cast<double>(a.involuntary)
         - static_cast<double>(b.involuntary))
            / calls);
  }
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
