#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace switchyard::batch {

namespace {

constexpr double growth = 1.02;

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  auto s = static_cast<uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%llu:%02llu:%02llu",
                  static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%llu:%02llu",
                  static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

uint64_t sum(const std::map<std::string, uint64_t>& m) {
  uint64_t n = 0;
  for (const auto& [k, v] : m)
    n += v;
  return n;
}

} // namespace

// -- latency_histogram --------------------------------------------------------

void latency_histogram::add(std::chrono::milliseconds ms) {
  auto v = std::max<double>(1.0, static_cast<double>(ms.count()));
  auto i = static_cast<size_t>(std::log(v) / std::log(growth));
  buckets_[std::min(i, bucket_count - 1)] += 1;
  ++count_;
}

double latency_histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      // The middle of the bucket [growth^i, growth^(i+1)).
      return std::pow(growth, static_cast<double>(i) + 0.5);
    }
  }
  return std::pow(growth, static_cast<double>(bucket_count));
}

// -- batch_stats --------------------------------------------------------------

uint64_t batch_stats::failures() const noexcept {
  return sum(failed) + sum(invalid);
}

uint64_t batch_stats::done() const noexcept {
  return resumed + ok + failures();
}

void batch_stats::add_trail(const std::vector<attempt_record>& trail) {
  for (size_t i = 0; i + 1 < trail.size(); ++i) {
    if (trail[i + 1].deployment == trail[i].deployment)
      ++retries;
    else
      ++fallbacks;
  }
}

void batch_stats::add_answer(const chat_response& resp,
                             std::chrono::milliseconds took,
                             bool answer_fell_back, const engine_config& cfg) {
  ++ok;
  add_trail(resp.attempts);
  latency.add(took);
  if (answer_fell_back)
    ++fell_back;
  std::string deployment
      = resp.attempts.empty() ? std::string{} : resp.attempts.back().deployment;
  ++by_provider[resp.provider];
  ++by_deployment[deployment];
  tokens_in += resp.usage.prompt_tokens;
  tokens_out += resp.usage.completion_tokens;
  if (const auto* d = cfg.find_deployment(deployment))
    cost += static_cast<double>(resp.usage.prompt_tokens) / 1000.0
                * d->cost_per_1k_input
            + static_cast<double>(resp.usage.completion_tokens) / 1000.0
                  * d->cost_per_1k_output;
}

void batch_stats::add_failure(const call_error& err,
                              std::chrono::milliseconds took) {
  ++failed[std::string{to_string(err.failure.cls)}];
  add_trail(err.attempts);
  latency.add(took);
}

void batch_stats::add_invalid(const std::string& code) {
  ++invalid[code];
}

// -- progress_display ---------------------------------------------------------

progress_display::progress_display(bool tty, std::chrono::milliseconds interval,
                                   bool quiet)
    : tty_(tty), quiet_(quiet),
      interval_(tty ? std::chrono::milliseconds{250} : interval),
      start_(std::chrono::steady_clock::now()), last_(start_) {
  // nop
}

std::string
progress_display::line(const batch_stats& st, uint64_t in_flight,
                       std::chrono::steady_clock::time_point now) const {
  double secs = std::chrono::duration<double>(now - start_).count();
  auto here = st.done() - st.resumed;
  double rate = secs > 0 ? static_cast<double>(here) / secs : 0;
  std::ostringstream out;
  if (st.total > 0) {
    auto frac = static_cast<double>(st.done()) / static_cast<double>(st.total);
    if (tty_) {
      constexpr int width = 24;
      auto filled = static_cast<int>(frac * width);
      out << '[' << std::string(static_cast<size_t>(filled), '#')
          << std::string(static_cast<size_t>(width - filled), '.') << "] ";
    }
    out << st.done() << '/' << st.total << ' ' << static_cast<int>(frac * 100)
        << "% ";
  } else {
    out << st.done() << " lines ";
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.0f lines/s", rate);
  out << buf;
  if (st.total > 0 && rate > 0)
    out << " ETA "
        << format_duration(static_cast<double>(st.total - st.done()) / rate);
  out << " | ok " << st.ok << " failed " << st.failures() << " fell back "
      << st.fell_back << " in flight " << in_flight;
  auto answered = sum(st.by_provider);
  if (answered > 0) {
    out << " |";
    for (const auto& [name, n] : st.by_provider)
      out << ' ' << name << ' '
          << static_cast<int>(100.0 * static_cast<double>(n)
                              / static_cast<double>(answered))
          << '%';
  }
  return out.str();
}

void progress_display::tick(const batch_stats& st, uint64_t in_flight,
                            std::chrono::steady_clock::time_point now) {
  if (quiet_ || now - last_ < interval_)
    return;
  last_ = now;
  if (tty_) {
    std::cerr << '\r' << line(st, in_flight, now) << "\x1b[K" << std::flush;
    drawn_ = true;
  } else {
    std::cerr << "switchyard-batch: " << line(st, in_flight, now) << '\n'
              << std::flush;
  }
}

void progress_display::clear() {
  if (drawn_) {
    std::cerr << "\r\x1b[K" << std::flush;
    drawn_ = false;
  }
}

// -- summary ------------------------------------------------------------------

void print_summary(std::ostream& out, const batch_stats& st,
                   std::chrono::steady_clock::duration wall, bool priced) {
  double secs = std::chrono::duration<double>(wall).count();
  auto here = st.done() - st.resumed;
  char buf[160];
  out << "switchyard-batch summary\n";
  std::snprintf(buf, sizeof(buf),
                "  lines: %llu this run in %.1f s (%.0f lines/s)",
                static_cast<unsigned long long>(here), secs,
                secs > 0 ? static_cast<double>(here) / secs : 0.0);
  out << buf;
  if (st.resumed > 0)
    out << ", " << st.resumed << " from the earlier run (" << st.resumed_errors
        << " of them errors)";
  out << '\n';
  out << "  answered: " << st.ok << " (fell back: " << st.fell_back << ")\n";
  out << "  failed calls: " << sum(st.failed);
  for (const auto& [cls, n] : st.failed)
    out << ", " << cls << ' ' << n;
  out << '\n';
  out << "  invalid lines: " << sum(st.invalid);
  for (const auto& [code, n] : st.invalid)
    out << ", " << code << ' ' << n;
  out << '\n';
  out << "  by provider:";
  for (const auto& [name, n] : st.by_provider)
    out << ' ' << name << ' ' << n;
  out << "\n  by deployment:";
  for (const auto& [name, n] : st.by_deployment)
    out << ' ' << name << ' ' << n;
  out << '\n';
  out << "  retries: " << st.retries << ", fallbacks: " << st.fallbacks
      << ", requeued (no target free): " << st.requeues << '\n';
  std::snprintf(buf, sizeof(buf),
                "  latency ms: p50 %.0f, p90 %.0f, p99 %.0f\n",
                st.latency.quantile(0.5), st.latency.quantile(0.9),
                st.latency.quantile(0.99));
  out << buf;
  out << "  tokens: in " << st.tokens_in << ", out " << st.tokens_out << '\n';
  if (priced) {
    std::snprintf(buf, sizeof(buf), "  cost: %.6f\n", st.cost);
    out << buf;
  }
}

} // namespace switchyard::batch
