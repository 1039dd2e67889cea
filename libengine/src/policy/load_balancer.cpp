#include "switchyard/policy/load_balancer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace switchyard {

namespace {

uint64_t mix(uint64_t x) noexcept {
  // splitmix64 finalizer.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Stable and allocation-free, which std::stable_sort is not.
template <class Less>
void insertion_sort(std::span<candidate> cs, Less less) noexcept {
  for (size_t i = 1; i < cs.size(); ++i)
    for (size_t j = i; j > 0 && less(cs[j], cs[j - 1]); --j)
      std::swap(cs[j], cs[j - 1]);
}

/// Weighted rendezvous score: -weight / ln(u), u uniform in (0, 1) from the
/// hash of (session, id). Highest wins.
double rendezvous_score(const candidate& c, uint64_t session_key) noexcept {
  if (c.weight <= 0)
    return -std::numeric_limits<double>::infinity();
  auto h = mix(session_key ^ mix(c.id));
  auto u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
  return -c.weight / std::log(u);
}

void weighted_draws(std::span<candidate> cs, random_generator& rng) noexcept {
  for (size_t i = 0; i < cs.size(); ++i) {
    double total = 0;
    for (size_t j = i; j < cs.size(); ++j)
      total += std::max(cs[j].weight, 0.0);
    if (total <= 0)
      return;
    auto r = rng.uniform() * total;
    auto pick = i;
    for (size_t j = i; j < cs.size(); ++j) {
      auto w = std::max(cs[j].weight, 0.0);
      if (w <= 0)
        continue;
      pick = j;
      if (r < w)
        break;
      r -= w;
    }
    std::rotate(cs.begin() + static_cast<std::ptrdiff_t>(i),
                cs.begin() + static_cast<std::ptrdiff_t>(pick),
                cs.begin() + static_cast<std::ptrdiff_t>(pick) + 1);
  }
}

void order_group(balance_strategy strategy, std::span<candidate> cs,
                 random_generator& rng, uint64_t session_key) noexcept {
  switch (strategy) {
    case balance_strategy::priority:
      insertion_sort(cs, [](const candidate& a, const candidate& b) {
        return a.priority < b.priority;
      });
      return;
    case balance_strategy::weighted_random:
      weighted_draws(cs, rng);
      return;
    case balance_strategy::sticky:
      insertion_sort(cs, [session_key](const candidate& a, const candidate& b) {
        return rendezvous_score(a, session_key)
               > rendezvous_score(b, session_key);
      });
      return;
    case balance_strategy::least_in_flight:
      insertion_sort(cs, [](const candidate& a, const candidate& b) {
        return std::pair{a.in_flight, a.priority}
               < std::pair{b.in_flight, b.priority};
      });
      return;
    case balance_strategy::lowest_latency:
      insertion_sort(cs, [](const candidate& a, const candidate& b) {
        return std::pair{a.latency, a.priority}
               < std::pair{b.latency, b.priority};
      });
      return;
    case balance_strategy::cheapest:
      insertion_sort(cs, [](const candidate& a, const candidate& b) {
        return std::pair{a.cost_per_token, a.priority}
               < std::pair{b.cost_per_token, b.priority};
      });
      return;
  }
}

} // namespace

void order_candidates(balance_strategy strategy, std::span<candidate> cs,
                      random_generator& rng, uint64_t session_key) noexcept {
  // Stable partition: healthy first, without std::stable_partition's buffer.
  size_t healthy = 0;
  for (size_t i = 0; i < cs.size(); ++i) {
    if (!cs[i].healthy)
      continue;
    std::rotate(cs.begin() + static_cast<std::ptrdiff_t>(healthy),
                cs.begin() + static_cast<std::ptrdiff_t>(i),
                cs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    ++healthy;
  }
  order_group(strategy, cs.first(healthy), rng, session_key);
  order_group(strategy, cs.subspan(healthy), rng, session_key);
}

std::optional<uint32_t> choose_candidate(balance_strategy strategy,
                                         std::span<candidate> cs,
                                         random_generator& rng,
                                         uint64_t session_key) noexcept {
  if (cs.empty())
    return std::nullopt;
  order_candidates(strategy, cs, rng, session_key);
  return cs.front().index;
}

uint64_t stable_hash(std::string_view key) noexcept {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (auto ch : key) {
    h ^= static_cast<unsigned char>(ch);
    h *= 0x100000001b3ULL;
  }
  return h;
}

} // namespace switchyard
