#pragma once

// The gateway's endpoints: authentication, limits, health, status, admin
// commands and the model APIs, on top of the embedded engine.

#include "calls.hpp"
#include "http.hpp"
#include "observe.hpp"
#include "settings.hpp"
#include "switchyard/engine.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace switchyard {
class metric_registry;
} // namespace switchyard

namespace switchyard::gateway {

/// What the operator endpoints (/metrics, /events, /dashboard) read.
struct observability {
  std::shared_ptr<metric_registry> metrics;
  std::shared_ptr<event_ring> events;
  /// The dashboard page, built once.
  std::string dashboard;
};

/// Answers every request of the gateway.
class service final : public request_handler {
public:
  service(engine& eng, std::shared_ptr<attempt_tracker> tracker,
          gateway_settings settings, observability obs = {});

  void handle(const request_view& req, std::shared_ptr<exchange> ex) override;

  http_response refusal(int status, std::string_view path,
                        std::string message) override;

  /// From now on /ready is 503 and new calls are refused with 503.
  void begin_drain() noexcept {
    draining_.store(true, std::memory_order_release);
  }

  /// Calls started and not answered yet.
  size_t running_calls() const noexcept {
    return calls_->running.load(std::memory_order_acquire);
  }

private:
  /// The request rate of one key (a token bucket refilled per minute).
  struct key_meter {
    std::mutex mtx;
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };

  /// Who a request comes from: index into `settings_.keys`, or -1 for no
  /// key needed; nullopt when it fails authentication.
  std::optional<int> authenticate(const request_view& req) const;

  bool is_admin(const request_view& req) const;

  /// May read /status, /metrics and /events: any gateway key or the admin
  /// key (everyone when no key is configured).
  bool may_observe(const request_view& req) const;

  /// Takes one request from key `k`'s budget; returns the wait when empty.
  std::optional<timespan> take(int k);

  bool may_use(int k, std::string_view route) const;

  void api_call(dialect d, const request_view& req,
                const std::shared_ptr<exchange>& ex);

  http_response models(int k) const;
  http_response status() const;
  http_response ready() const;
  http_response admin(std::string_view path, const request_view& req);

  engine& eng_;
  std::shared_ptr<attempt_tracker> tracker_;
  gateway_settings settings_;
  observability obs_;
  std::vector<std::unique_ptr<key_meter>> meters_;
  std::shared_ptr<call_counter> calls_ = std::make_shared<call_counter>();
  std::atomic<bool> draining_{false};
};

} // namespace switchyard::gateway
