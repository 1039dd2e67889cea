#pragma once

// The exact-match response cache: the key of a request (its canonical form),
// the rules for what may be cached, and a size-bounded LRU with expiry. No
// actors and no clock of its own: callers pass `now`.

#include "switchyard/model.hpp"
#include "switchyard/time.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace switchyard {

/// A route's cache policy (`routes.X.cache`, inherited from
/// `defaults.cache`).
struct cache_settings {
  /// Store successful answers and serve identical requests from them.
  bool enabled = false;
  /// How long a stored answer is served.
  timespan ttl = std::chrono::minutes{5};
  /// Cache (and coalesce) requests whose temperature is above 0 or unset
  /// (providers default to a temperature above 0).
  bool allow_nonzero_temperature = false;
  /// Share one upstream call between identical calls in flight; unset
  /// follows `enabled`.
  std::optional<bool> coalesce;

  /// Whether identical calls in flight share one upstream call.
  bool coalescing() const noexcept {
    return coalesce.value_or(enabled);
  }

  /// Whether anything of the cache applies to this route.
  bool active() const noexcept {
    return enabled || coalescing();
  }
};

/// Bounds of the whole process's cache (`engine.cache`).
struct cache_limits {
  /// Most answers held at once.
  size_t max_entries = 10'000;
  /// Most bytes held (keys plus answers, as `approx_bytes` counts them).
  size_t max_bytes = size_t{64} << 20;
};

/// Returns the canonical form of a request on a route: every field of the
/// request (the messages, tools, every parameter, `user`, metadata, extra
/// provider parameters and the stream flag) plus the route and the pinned
/// deployment, serialized with sorted object keys, integral numbers written
/// as integers, and `stop` sequences sorted. Two requests get the same key
/// exactly when they ask the same thing of the same route.
std::string cache_key(std::string_view route, std::string_view pin,
                      const chat_request& req);

/// Whether `req` may be served from or stored in the cache (and coalesced)
/// under `cfg`: a temperature above 0, or none (the provider's default),
/// needs `allow_nonzero_temperature`.
bool cache_eligible(const cache_settings& cfg, const chat_request& req);

/// A stored answer: a complete response, or the events of a stream that
/// ended normally (from its `stream_start` to its `stream_end`).
using cached_answer = std::variant<chat_response, std::vector<stream_event>>;

/// Approximates the memory an answer holds (its strings and records).
size_t approx_bytes(const cached_answer& answer);

/// Whether a stream's events may be stored: they open with a `stream_start`,
/// end with a `stream_end`, and no fallback happened mid-stream (no
/// `stream_notice`).
bool cacheable_stream(const std::vector<stream_event>& events);

/// An LRU of answers by exact key, bounded by entries and bytes, each entry
/// expiring after its TTL. Thread-safe; lookups share the stored answer.
class response_cache {
public:
  /// What the cache did so far.
  struct counters {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t stores = 0;
    /// Entries dropped to stay within the bounds.
    uint64_t evictions = 0;
    /// Entries found expired (dropped at lookup).
    uint64_t expirations = 0;
    size_t entries = 0;
    size_t bytes = 0;
  };

  explicit response_cache(cache_limits limits);

  /// Returns the answer stored under `key` if it has not expired at `now`
  /// (and marks it most recently used); an expired one is dropped.
  std::shared_ptr<const cached_answer> find(const std::string& key,
                                            time_point now);

  /// Stores `answer` under `key` until `now + ttl`, replacing an older one
  /// and evicting the least recently used entries beyond the bounds. An
  /// answer larger than `max_bytes` on its own is not stored (returns
  /// false).
  bool store(std::string key, std::shared_ptr<const cached_answer> answer,
             time_point now, timespan ttl);

  /// Drops every entry.
  void clear();

  counters stats() const;

private:
  struct entry {
    std::string key;
    std::shared_ptr<const cached_answer> answer;
    time_point expires;
    size_t bytes = 0;
  };

  using list_type = std::list<entry>;

  void drop(list_type::iterator pos);

  cache_limits limits_;
  mutable std::mutex mtx_;
  /// Most recently used first.
  list_type lru_;
  std::unordered_map<std::string_view, list_type::iterator> index_;
  counters stats_;
};

} // namespace switchyard
