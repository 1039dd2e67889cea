// The HTTP transport: error names and classes, and the dispatcher that
// spreads jobs over one or more libcurl multi loops (loop.cpp).

#include "switchyard/transport.hpp"

#include "loop.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace switchyard {

// -- error names and classes --------------------------------------------------

namespace {

constexpr std::array<std::string_view, 13> transport_error_names{
    "none",         "connect_failed",  "dns",
    "tls",          "connect_timeout", "first_byte_timeout",
    "idle_timeout", "total_timeout",   "too_large",
    "cancelled",    "send_failed",     "recv_failed",
    "other",
};

} // namespace

std::string_view to_string(transport_error e) noexcept {
  auto i = static_cast<size_t>(e);
  return i < transport_error_names.size() ? transport_error_names[i]
                                          : std::string_view{"other"};
}

failure classify_transport_error(transport_error e, std::string detail) {
  failure f;
  switch (e) {
    case transport_error::connect_timeout:
    case transport_error::first_byte_timeout:
    case transport_error::idle_timeout:
    case transport_error::total_timeout:
      f.cls = error_class::timeout;
      break;
    case transport_error::too_large:
      f.cls = error_class::malformed;
      break;
    case transport_error::cancelled:
      f.cls = error_class::cancelled;
      break;
    case transport_error::none:
      f.cls = error_class::server_error;
      break;
    default:
      f.cls = error_class::connection;
      break;
  }
  f.code = std::string{to_string(e)};
  f.message = std::move(detail);
  return f;
}

// -- transport ----------------------------------------------------------------

namespace {

/// A share of `total` for each of `n` loops, rounded up.
long share_of(long total, size_t n) noexcept {
  auto k = static_cast<long>(n);
  return (total + k - 1) / k;
}

} // namespace

size_t default_transport_loops(unsigned cores) noexcept {
  // One loop keeps up with about four cores' worth of callers (the loop's
  // CPU per call is about a quarter of a call's whole cost in the engine).
  return std::clamp<size_t>(cores / 4, 1, 16);
}

struct transport::impl {
  explicit impl(transport_config cfg) {
    if (cfg.max_host_connections <= 0)
      cfg.max_host_connections = 256;
    if (cfg.max_connections <= 0)
      cfg.max_connections = 4 * cfg.max_host_connections;
    auto n = cfg.loops != 0
                 ? cfg.loops
                 : default_transport_loops(std::thread::hardware_concurrency());
    n = std::min(n, max_transport_loops);
    // Each loop has its own connection cache: the limits are split so that
    // together they stay what the config says.
    auto share = cfg;
    share.max_host_connections = share_of(cfg.max_host_connections, n);
    share.max_connections = share_of(cfg.max_connections, n);
    for (size_t i = 0; i < n; ++i) {
      auto l = std::make_unique<transport_detail::loop>(share);
      if (!l->start_error().empty()) {
        if (loops_.empty())
          start_error_ = l->start_error();
        break; // run with the loops that started
      }
      loops_.push_back(std::move(l));
    }
  }

  uint64_t submit(http_job job, std::shared_ptr<transfer_sink> sink) {
    auto seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
    if (loops_.empty()) {
      // No loop to run it: the job ends here, on the caller's thread.
      transfer_result result;
      result.error = transport_error::other;
      result.detail = "transport unavailable: " + start_error_;
      sink->on_complete(std::move(result));
      return seq << loop_bits;
    }
    // Round robin: every loop keeps its own connections to each host, so
    // with steady traffic each reuses its own (keep-alive stays as high as
    // with one loop) while the work spreads evenly.
    auto index = seq % loops_.size();
    auto id = (seq << loop_bits) | index;
    loops_[index]->submit(id, std::move(job), std::move(sink));
    return id;
  }

  void cancel(uint64_t id) {
    auto index = id & ((uint64_t{1} << loop_bits) - 1);
    if (index < loops_.size())
      loops_[index]->cancel(id);
  }

  size_t in_flight() const noexcept {
    size_t n = 0;
    for (const auto& l : loops_)
      n += l->in_flight();
    return n;
  }

  /// The low bits of a job id name its loop.
  static constexpr unsigned loop_bits = 6;
  static constexpr size_t max_transport_loops = size_t{1} << loop_bits;

  std::string start_error_;
  std::vector<std::unique_ptr<transport_detail::loop>> loops_;
  std::atomic<uint64_t> next_seq_{1};
};

transport::transport(transport_config cfg)
    : impl_(std::make_unique<impl>(std::move(cfg))) {
  // nop
}

transport::~transport() = default;

uint64_t transport::submit(http_job job, std::shared_ptr<transfer_sink> sink) {
  return impl_->submit(std::move(job), std::move(sink));
}

void transport::cancel(uint64_t id) {
  impl_->cancel(id);
}

size_t transport::in_flight() const noexcept {
  return impl_->in_flight();
}

size_t transport::loops() const noexcept {
  return impl_->loops_.size();
}

const std::string& transport::start_error() const noexcept {
  return impl_->start_error_;
}

} // namespace switchyard
