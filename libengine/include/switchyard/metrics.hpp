#pragma once

// Prometheus metrics for embedders and the gateway: a registry of metric
// families rendered in the text exposition format, and an `event_sink` that
// turns engine events into Switchyard's metrics (names in configs/README.md
// and apps/gateway/README.md).
//
// Counting is lock-free: a metric is a set of atomics, and a family hands
// out a stable reference per label tuple (created on first use under the
// family's mutex). Hold on to that reference instead of looking it up per
// call; `metrics_sink` resolves its labels once, when it is built.

#include "switchyard/config.hpp"
#include "switchyard/events.hpp"

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchyard {

/// A monotonically increasing value (Prometheus counter).
class metric_counter {
public:
  void inc(double by = 1) noexcept {
    value_.fetch_add(by, std::memory_order_relaxed);
  }

  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<double> value_{0};
};

/// A value that goes up and down (Prometheus gauge).
class metric_gauge {
public:
  void set(double v) noexcept {
    value_.store(v, std::memory_order_relaxed);
  }

  void add(double by) noexcept {
    value_.fetch_add(by, std::memory_order_relaxed);
  }

  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<double> value_{0};
};

/// A distribution in fixed buckets (Prometheus histogram); each bucket is an
/// atomic counter of the observations at or below its bound and above the
/// previous one (rendered cumulatively).
class metric_histogram {
public:
  /// `bounds` ascending, without +Inf (added on rendering).
  explicit metric_histogram(std::shared_ptr<const std::vector<double>> bounds);

  void observe(double v) noexcept;

  const std::vector<double>& bounds() const noexcept {
    return *bounds_;
  }

  /// Observations in bucket `i` alone (i == bounds().size(): above all).
  uint64_t bucket(size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }

  uint64_t count() const noexcept;

  double sum() const noexcept {
    return sum_.load(std::memory_order_relaxed);
  }

private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

enum class metric_type : uint8_t { counter, gauge, histogram };

/// The labels and help common to the members of a family.
struct metric_family_info {
  std::string name;
  std::string help;
  metric_type type = metric_type::counter;
  std::vector<std::string> labels;
};

/// The metrics of one name, one per label tuple.
template <class Metric>
class metric_family {
public:
  template <class... Args>
  metric_family(metric_family_info info, Args... args)
      : info_(std::move(info)),
        make_([args...] { return std::make_unique<Metric>(args...); }) {
    // nop
  }

  /// Returns the metric for `values` (one per label, in the family's label
  /// order), creating it on first use. The reference stays valid as long as
  /// the registry. Takes a mutex: resolve once, then keep the reference.
  /// Throws `std::invalid_argument` on a wrong number of values.
  Metric& with(std::vector<std::string> values);

  const metric_family_info& info() const noexcept {
    return info_;
  }

  /// Calls `fn(values, metric)` for each member, in label order.
  template <class F>
  void each(F&& fn) const {
    std::lock_guard guard{mtx_};
    for (auto& [values, m] : members_)
      fn(values, *m);
  }

private:
  metric_family_info info_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mtx_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> members_;
};

template <class Metric>
Metric& metric_family<Metric>::with(std::vector<std::string> values) {
  if (values.size() != info_.labels.size())
    throw std::invalid_argument(info_.name + ": expected "
                                + std::to_string(info_.labels.size())
                                + " label values");
  std::lock_guard guard{mtx_};
  auto& slot = members_[std::move(values)];
  if (!slot)
    slot = make_();
  return *slot;
}

/// A set of metric families, rendered in the Prometheus text format.
/// Thread-safe. Registering a name twice with the same type and labels
/// returns the family registered first (sinks may share a registry).
class metric_registry {
public:
  metric_registry() = default;
  metric_registry(const metric_registry&) = delete;
  metric_registry& operator=(const metric_registry&) = delete;

  /// Throws `std::invalid_argument` for an invalid metric or label name, or
  /// a name registered before with another type or labels.
  metric_family<metric_counter>& counter(std::string name, std::string help,
                                         std::vector<std::string> labels);

  metric_family<metric_gauge>& gauge(std::string name, std::string help,
                                     std::vector<std::string> labels);

  /// `bounds`: the buckets' upper bounds, ascending.
  metric_family<metric_histogram>& histogram(std::string name, std::string help,
                                             std::vector<std::string> labels,
                                             std::vector<double> bounds);

  /// Runs `fn` before every `render` (to refresh gauges from a snapshot,
  /// e.g. `publish_status` in <switchyard/engine_metrics.hpp>).
  void on_collect(std::function<void()> fn);

  /// Renders every family in the text exposition format (version 0.0.4).
  std::string render() const;

private:
  struct entry {
    metric_type type;
    std::shared_ptr<void> family;
    const metric_family_info* info;
  };

  template <class Family, class... Args>
  Family& add(metric_family_info info, Args&&... args);

  mutable std::mutex mtx_;
  std::vector<entry> families_;
  std::vector<std::function<void()>> collectors_;
};

/// Escapes a label value for the text format (backslash, quote, newline).
std::string escape_label_value(std::string_view value);

/// Default buckets for durations in seconds (5 ms .. 120 s).
std::vector<double> default_duration_buckets();

/// Turns engine events into Switchyard's metrics in a registry. Every
/// route, deployment and class label tuple the config allows is resolved
/// when the sink is built, so `on_event` takes no lock (a deployment or
/// route unknown to the config falls back to a locked lookup).
class metrics_sink : public event_sink {
public:
  metrics_sink(std::shared_ptr<metric_registry> registry,
               const engine_config& cfg);
  ~metrics_sink() override;

  void on_event(const engine_event& ev) override;

  /// Sets a deployment's gauges from a status snapshot: `breaker` is the
  /// breaker state's name; the rate-limit values are the upstream's last
  /// `x-ratelimit-remaining-*` (when it sent them).
  void observe_deployment(const std::string& deployment,
                          std::string_view breaker, uint32_t in_flight,
                          uint32_t queued,
                          std::optional<int64_t> remaining_requests,
                          std::optional<int64_t> remaining_tokens);

  /// Sets the engine-wide gauges.
  void observe_engine(uint64_t calls_running, uint64_t calls_queued);

  metric_registry& registry() noexcept {
    return *registry_;
  }

  struct handles;

private:
  std::shared_ptr<metric_registry> registry_;
  std::unique_ptr<handles> h_;
};

} // namespace switchyard
