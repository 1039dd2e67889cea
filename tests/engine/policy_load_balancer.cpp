#define CAF_SUITE policy_load_balancer
#include "support_random.hpp"
#include "switchyard/policy/load_balancer.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using switchyard::test::replay_random;

namespace {

std::vector<candidate> make(size_t n) {
  std::vector<candidate> cs(n);
  for (size_t i = 0; i < n; ++i) {
    cs[i].index = static_cast<uint32_t>(i);
    cs[i].id = stable_hash("deployment-" + std::to_string(i));
  }
  return cs;
}

std::vector<uint32_t> indices(const std::vector<candidate>& cs) {
  std::vector<uint32_t> result;
  for (auto& c : cs)
    result.push_back(c.index);
  return result;
}

std::vector<uint32_t> order(balance_strategy s, std::vector<candidate> cs,
                            random_generator& rng, uint64_t key = 0) {
  order_candidates(s, cs, rng, key);
  return indices(cs);
}

using ids = std::vector<uint32_t>;

} // namespace

CAF_TEST(priority orders by priority number and keeps ties stable) {
  replay_random rng{0.5};
  auto cs = make(4);
  cs[0].priority = 2;
  cs[1].priority = 0;
  cs[2].priority = 1;
  cs[3].priority = 0;
  CAF_CHECK_EQUAL(order(balance_strategy::priority, cs, rng),
                  (ids{1, 3, 2, 0}));
  // Unhealthy candidates go last, ordered among themselves.
  cs[1].healthy = false;
  cs[3].healthy = false;
  CAF_CHECK_EQUAL(order(balance_strategy::priority, cs, rng),
                  (ids{2, 0, 1, 3}));
  CAF_CHECK_EQUAL(rng.draws(), 0u);
}

CAF_TEST(weighted random draws by weight without replacement) {
  auto cs = make(3);
  cs[0].weight = 1;
  cs[1].weight = 2;
  cs[2].weight = 1;
  // Total 4: 0.5 -> 2 falls in [1, 3) = #1; then total 2: 0.9 -> 1.8 in
  // [1, 2) = #2.
  replay_random rng{0.5, 0.9};
  CAF_CHECK_EQUAL(order(balance_strategy::weighted_random, cs, rng),
                  (ids{1, 2, 0}));
  replay_random low{0.1, 0.1};
  CAF_CHECK_EQUAL(order(balance_strategy::weighted_random, cs, low),
                  (ids{0, 1, 2}));
  // Zero weight is never drawn ahead of a positive one.
  cs[0].weight = 0;
  replay_random any{0.0, 0.0, 0.0};
  CAF_CHECK_EQUAL(order(balance_strategy::weighted_random, cs, any),
                  (ids{1, 2, 0}));
}

CAF_TEST(weighted random follows the weights over many draws) {
  auto cs = make(2);
  cs[0].weight = 1;
  cs[1].weight = 3;
  default_random_generator rng{42};
  int first = 0;
  for (int i = 0; i < 10000; ++i) {
    auto copy = cs;
    if (choose_candidate(balance_strategy::weighted_random, copy, rng) == 1u)
      ++first;
  }
  CAF_CHECK(first > 7200 && first < 7800);
}

CAF_TEST(sticky sessions stay put and move only off a removed candidate) {
  default_random_generator rng{1};
  auto cs = make(5);
  std::map<uint64_t, uint32_t> before;
  std::array<int, 5> load{};
  for (uint64_t s = 0; s < 500; ++s) {
    auto key = stable_hash("session-" + std::to_string(s));
    auto copy = cs;
    auto pick = choose_candidate(balance_strategy::sticky, copy, rng, key);
    CAF_REQUIRE(pick.has_value());
    before[key] = *pick;
    ++load[*pick];
    // The same key picks the same candidate, whatever the input order.
    auto reversed = cs;
    std::reverse(reversed.begin(), reversed.end());
    CAF_CHECK_EQUAL(
        choose_candidate(balance_strategy::sticky, reversed, rng, key), pick);
  }
  for (auto n : load)
    CAF_CHECK(n > 50);
  // Remove #2 and renumber the rest, as a shrunk route would: #2's sessions
  // move, nobody else's do (identity is the id, not the position).
  auto fewer = cs;
  fewer.erase(fewer.begin() + 2);
  for (size_t i = 0; i < fewer.size(); ++i)
    fewer[i].index = static_cast<uint32_t>(i);
  int moved = 0;
  for (auto [key, old] : before) {
    auto copy = fewer;
    auto pick = choose_candidate(balance_strategy::sticky, copy, rng, key);
    CAF_REQUIRE(pick.has_value());
    auto id = fewer[*pick].id;
    if (old == 2) {
      CAF_CHECK(id != cs[2].id);
      ++moved;
    } else {
      CAF_CHECK_EQUAL(id, cs[old].id);
    }
  }
  CAF_CHECK_EQUAL(moved, load[2]);
  // Marking #2 unhealthy instead has the same effect and keeps it as a last
  // resort.
  auto sick = cs;
  sick[2].healthy = false;
  for (auto [key, old] : before) {
    auto copy = sick;
    order_candidates(balance_strategy::sticky, copy, rng, key);
    CAF_CHECK_EQUAL(copy.back().index, 2u);
    if (old != 2)
      CAF_CHECK_EQUAL(copy.front().index, old);
  }
}

CAF_TEST(sticky honours weights) {
  default_random_generator rng{1};
  auto cs = make(2);
  cs[0].weight = 1;
  cs[1].weight = 4;
  int heavy = 0;
  for (uint64_t s = 0; s < 2000; ++s) {
    auto copy = cs;
    if (choose_candidate(balance_strategy::sticky, copy, rng, s) == 1u)
      ++heavy;
  }
  CAF_CHECK(heavy > 1500 && heavy < 1700);
}

CAF_TEST(least in flight prefers idle candidates) {
  replay_random rng{0.5};
  auto cs = make(4);
  cs[0].in_flight = 3;
  cs[1].in_flight = 1;
  cs[2].in_flight = 1;
  cs[3].in_flight = 0;
  cs[3].healthy = false;
  CAF_CHECK_EQUAL(order(balance_strategy::least_in_flight, cs, rng),
                  (ids{1, 2, 0, 3}));
  // Ties break by priority.
  cs[1].priority = 1;
  CAF_CHECK_EQUAL(order(balance_strategy::least_in_flight, cs, rng),
                  (ids{2, 1, 0, 3}));
}

CAF_TEST(lowest latency tries unmeasured candidates first) {
  replay_random rng{0.5};
  auto cs = make(3);
  cs[0].latency = 30ms;
  cs[1].latency = timespan{0};
  cs[2].latency = 10ms;
  CAF_CHECK_EQUAL(order(balance_strategy::lowest_latency, cs, rng),
                  (ids{1, 2, 0}));
  cs[1].latency = 20ms;
  CAF_CHECK_EQUAL(order(balance_strategy::lowest_latency, cs, rng),
                  (ids{2, 1, 0}));
}

CAF_TEST(ewma weighs new samples by alpha) {
  ewma e{0.5};
  CAF_CHECK(e.empty());
  CAF_CHECK_EQUAL(e.value(), timespan{0});
  e.add(100ms);
  CAF_CHECK_EQUAL(e.value(), timespan{100ms});
  e.add(200ms);
  CAF_CHECK_EQUAL(e.value(), timespan{150ms});
  e.add(50ms);
  CAF_CHECK_EQUAL(e.value(), timespan{100ms});
  CAF_CHECK(!e.empty());
}

CAF_TEST(cheapest orders by cost per token) {
  replay_random rng{0.5};
  auto cs = make(3);
  cs[0].cost_per_token = 3e-6;
  cs[1].cost_per_token = 1e-6;
  cs[2].cost_per_token = 2e-6;
  CAF_CHECK_EQUAL(order(balance_strategy::cheapest, cs, rng), (ids{1, 2, 0}));
  cs[1].healthy = false;
  CAF_CHECK_EQUAL(order(balance_strategy::cheapest, cs, rng), (ids{2, 0, 1}));
}

CAF_TEST(choosing among no candidates yields nothing) {
  replay_random rng{0.5};
  std::vector<candidate> none;
  CAF_CHECK(!choose_candidate(balance_strategy::priority, none, rng));
}
