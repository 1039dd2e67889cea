#include "provider_steps.hpp"
#include "redis_state.hpp"

#include <caf/all.hpp>

namespace switchyard::provider_steps {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

/// The shared state of `rt` while Redis answers, else null.
shared_deployment* live(const deployment_runtime& rt) {
  auto* sh = rt.shared;
  return sh != nullptr && sh->live.load(relaxed) ? sh : nullptr;
}

} // namespace

void apply_shared(self_ptr self, time_point now) {
  auto& rt = *self->state.rt;
  auto* sh = rt.shared;
  if (sh == nullptr)
    return;
  auto seq = sh->seq.load(std::memory_order_acquire);
  if (seq == rt.shared_seen)
    return;
  rt.shared_seen = seq;
  if (auto bseq = sh->breaker_seq.load(relaxed);
      bseq != rt.shared_breaker_seen) {
    rt.shared_breaker_seen = bseq;
    auto remote = static_cast<breaker_state>(sh->breaker.load(relaxed));
    auto until = from_ns(sh->open_until_ns.load(relaxed));
    auto local = rt.breaker.state();
    if (remote == breaker_state::open && until > now) {
      // Another replica opened it (or reopened it after its probe failed).
      if (local != breaker_state::open || rt.breaker.retry_at(now) < until)
        rt.breaker.adopt(now, breaker_state::open, until,
                         sh->reopens.load(relaxed));
    } else if (remote == breaker_state::closed
               && (local == breaker_state::open
                   || local == breaker_state::half_open)) {
      // Another replica's probe succeeded.
      rt.breaker.adopt(now, breaker_state::closed, time_point{}, 0);
    }
  }
  auto down = sh->down_until_ns.load(relaxed);
  if (down > to_ns(now) && down > rt.board.down_until_ns.load(relaxed)) {
    failure f;
    f.cls = static_cast<error_class>(sh->down_class.load(relaxed));
    f.message = "marked down by another replica ("
                + std::string{to_string(f.cls)} + ")";
    rt.mark_down(down == INT64_MAX ? time_point::max() : from_ns(down),
                 std::move(f));
  }
  emit_transition(self, now, false);
}

bool may_probe(self_ptr self, time_point now) {
  auto& rt = *self->state.rt;
  auto* sh = live(rt);
  if (sh == nullptr || rt.breaker.state() != breaker_state::open
      || rt.breaker.retry_at(now) > now)
    return true;
  if (sh->lease_until_ns.load(relaxed) > to_ns(now))
    return true;
  if (!sh->want_lease.exchange(true, relaxed))
    self->state.core->redis->wake();
  return false;
}

bool take_shared_quota(self_ptr self, uint32_t tokens) {
  auto* sh = live(*self->state.rt);
  if (sh == nullptr)
    return true;
  bool wake = false;
  bool ok = sh->requests.take(1, wake);
  if (ok && !sh->tokens.take(tokens, wake)) {
    sh->requests.left.fetch_add(1, relaxed);
    ok = false;
  }
  if (wake)
    self->state.core->redis->wake();
  return ok;
}

void share_down(self_ptr self) {
  auto& st = self->state;
  if (st.core->redis == nullptr)
    return;
  auto& b = st.rt->board;
  st.core->redis->publish_down(st.rt->index, from_ns(b.down_until_ns.load()),
                               static_cast<error_class>(b.down_class.load()));
}

} // namespace switchyard::provider_steps
