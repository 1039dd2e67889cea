#include "redis_state.hpp"

#include "engine_core.hpp"
#include "state_log.hpp"
#include "switchyard/actors.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <pthread.h>
#include <random>
#include <sys/time.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <hiredis/hiredis.h>

namespace switchyard {

namespace {

using std::chrono::milliseconds;

/// Length of a rate-limit window (fixed windows, like the providers').
constexpr int64_t window_ms = 60'000;

/// Deletes the lease only when this replica still holds it.
constexpr const char* release_script
    = "if redis.call('get', KEYS[1]) == ARGV[1] then "
      "return redis.call('del', KEYS[1]) else return 0 end";

/// Keeps the lease (when this replica holds it) until ARGV[2] ms from now:
/// after a failed probe, nobody probes again before the new open period
/// ends, even a replica that has not yet read that the breaker reopened.
constexpr const char* extend_script
    = "if redis.call('get', KEYS[1]) == ARGV[1] then "
      "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

int64_t unix_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Converts a monotonic time point to Unix milliseconds.
int64_t to_unix_ms(time_point t) {
  if (t == time_point::max())
    return -1;
  auto d = std::chrono::duration_cast<milliseconds>(t - clock_type::now());
  return unix_ms() + d.count();
}

/// Converts Unix milliseconds (-1 = never) to a monotonic time point.
time_point from_unix_ms(int64_t ms) {
  if (ms < 0)
    return time_point::max();
  return clock_type::now() + milliseconds{ms - unix_ms()};
}

timeval to_timeval(timespan d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1'000'000),
                 static_cast<suseconds_t>(us % 1'000'000)};
}

/// A reply as text: strings and status as is, integers in decimal, nil as
/// empty; nullopt for an error reply.
std::optional<std::string> text_of(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string{r->str, r->len};
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return std::string{};
    default:
      return std::nullopt;
  }
}

} // namespace

redis_state::redis_state(redis_config cfg, engine_core& core)
    : cfg_(std::move(cfg)), core_(core) {
  std::random_device rd;
  replica_ = std::to_string(::getpid()) + "-" + std::to_string(rd());
  auto n = core_.deployments.size();
  for (size_t i = 0; i < n; ++i) {
    auto sh = std::make_unique<shared_deployment>();
    auto& rate = core_.deployments[i]->config.limits.rate;
    auto slices = static_cast<int64_t>(cfg_.limit_slices);
    for (auto [q, limit] : {std::pair{&sh->requests, rate.requests_per_minute},
                            std::pair{&sh->tokens, rate.tokens_per_minute}}) {
      q->limit = static_cast<int64_t>(limit);
      q->slice = std::max<int64_t>(1, q->limit / slices);
    }
    core_.deployments[i]->shared = sh.get();
    shared_.push_back(std::move(sh));
  }
  seen_breaker_.resize(n);
  seen_down_.resize(n);
  window_.assign(n * 2, 0);
  exhausted_.assign(n * 2, false);
  thread_ = std::thread{[this] { run(); }};
}

redis_state::~redis_state() {
  stop();
}

// -- called from any thread ---------------------------------------------------

void redis_state::stop() {
  {
    std::lock_guard guard{mtx_};
    if (stopping_)
      return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  for (size_t i = 0; i < shared_.size(); ++i) {
    shared_[i]->live = false;
    core_.deployments[i]->shared = nullptr;
  }
}

void redis_state::publish_breaker(size_t idx, breaker_state to,
                                  time_point open_until, uint32_t reopens,
                                  bool verdict) {
  auto value
      = std::string{to_string(to)} + " "
        + std::to_string(to == breaker_state::open ? to_unix_ms(open_until) : 0)
        + " " + std::to_string(reopens);
  std::lock_guard guard{mtx_};
  outbox_.push_back({"SET", key("breaker", idx), std::move(value)});
  if (verdict) {
    shared_[idx]->lease_until_ns = 0;
    if (to == breaker_state::open) {
      auto ms = std::chrono::duration_cast<milliseconds>(open_until
                                                         - clock_type::now());
      outbox_.push_back({"EVAL", extend_script, "1", key("lease", idx),
                         replica_,
                         std::to_string(std::max<int64_t>(1, ms.count()))});
    } else {
      outbox_.push_back(
          {"EVAL", release_script, "1", key("lease", idx), replica_});
    }
  }
  cv_.notify_one();
}

void redis_state::publish_down(size_t idx, time_point until, error_class cls) {
  auto ms = to_unix_ms(until);
  command cmd{"SET", key("down", idx),
              std::to_string(ms) + " " + std::string{to_string(cls)}};
  if (ms >= 0) {
    cmd.emplace_back("PX");
    cmd.push_back(std::to_string(std::max<int64_t>(1, ms - unix_ms())));
  }
  std::lock_guard guard{mtx_};
  outbox_.push_back(std::move(cmd));
  cv_.notify_one();
}

void redis_state::wake() {
  {
    std::lock_guard guard{mtx_};
    woken_ = true;
  }
  cv_.notify_one();
}

std::string redis_state::key(std::string_view kind, size_t idx) const {
  auto result = cfg_.key_prefix;
  result += kind;
  result += ':';
  result += core_.deployments[idx]->config.name;
  return result;
}

// -- the client thread --------------------------------------------------------

void redis_state::run() {
  pthread_setname_np(pthread_self(), "sy-redis");
  timespan backoff = milliseconds{50};
  time_point next_connect{};
  time_point next_poll{};
  std::unique_lock lk{mtx_};
  while (!stopping_) {
    auto now = clock_type::now();
    if (ctx_ == nullptr && now >= next_connect) {
      outbox_.clear(); // the resync after connecting republishes
      lk.unlock();
      bool ok = connect();
      lk.lock();
      if (ok) {
        backoff = milliseconds{50};
        next_poll = clock_type::now() + cfg_.poll_interval;
      } else {
        next_connect = clock_type::now() + backoff;
        backoff = std::min<timespan>(backoff * 2, std::chrono::seconds{2});
      }
    } else if (ctx_ != nullptr) {
      auto cmds = std::move(outbox_);
      outbox_.clear();
      woken_ = false;
      lk.unlock();
      bool ok = cmds.empty() || exec(cmds, nullptr);
      if (ok && clock_type::now() >= next_poll) {
        ok = poll();
        next_poll = clock_type::now() + cfg_.poll_interval;
      }
      ok = ok && serve_leases() && serve_quotas(false);
      if (!ok)
        lost(ctx_ != nullptr && ctx_->err ? ctx_->errstr : "error reply");
      lk.lock();
      if (!ok) {
        next_connect = clock_type::now() + backoff;
        continue;
      }
    }
    // Sleep until the next poll, reconnect or window, or until woken.
    auto until = ctx_ != nullptr ? next_poll : next_connect;
    auto next_window = (unix_ms() / window_ms + 1) * window_ms;
    until = std::min(until, from_unix_ms(next_window));
    // While disconnected, publications wait for the resync and nobody
    // wants slices or leases (the gates are off): only stopping wakes.
    cv_.wait_until(lk, until, [&] {
      return stopping_ || (ctx_ != nullptr && (!outbox_.empty() || woken_));
    });
  }
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

bool redis_state::connect() {
  auto tv = to_timeval(cfg_.connect_timeout);
  ctx_ = redisConnectWithTimeout(cfg_.host.c_str(), cfg_.port, tv);
  auto fail = [&](const std::string& why) {
    if (!reported_down_)
      state_log("redis at " + cfg_.host + ":" + std::to_string(cfg_.port)
                + " unavailable (" + why
                + "): deciding on local state, reconnecting with backoff");
    reported_down_ = true;
    if (ctx_ != nullptr)
      redisFree(ctx_);
    ctx_ = nullptr;
    return false;
  };
  if (ctx_ == nullptr)
    return fail("out of memory");
  if (ctx_->err)
    return fail(ctx_->errstr);
  redisSetTimeout(ctx_, to_timeval(cfg_.command_timeout));
  std::vector<command> hello;
  if (!cfg_.password.empty())
    hello.push_back({"AUTH", cfg_.password});
  if (cfg_.db != 0)
    hello.push_back({"SELECT", std::to_string(cfg_.db)});
  hello.push_back({"PING"});
  std::vector<std::string> replies;
  if (!exec(hello, &replies))
    return fail(ctx_->err ? ctx_->errstr : "refused: " + replies.back());
  if (!resync() || !poll() || !serve_quotas(true))
    return fail(ctx_->err ? ctx_->errstr : "error reply");
  for (auto& sh : shared_)
    sh->live = true;
  if (reported_down_)
    state_log("redis at " + cfg_.host + ":" + std::to_string(cfg_.port)
              + " available again: state resynchronised");
  reported_down_ = false;
  return true;
}

void redis_state::lost(const std::string& why) {
  for (auto& sh : shared_) {
    sh->live = false;
    sh->lease_until_ns = 0;
  }
  if (!reported_down_)
    state_log("redis at " + cfg_.host + ":" + std::to_string(cfg_.port)
              + " lost (" + why
              + "): deciding on local state, reconnecting with backoff");
  reported_down_ = true;
  redisFree(ctx_);
  ctx_ = nullptr;
}

bool redis_state::exec(const std::vector<command>& cmds,
                       std::vector<std::string>* out) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto& cmd : cmds) {
    argv.clear();
    lens.clear();
    for (auto& arg : cmd) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(),
                               lens.data())
        != REDIS_OK)
      return false;
  }
  bool ok = true;
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
      return false;
    auto* r = static_cast<redisReply*>(raw);
    auto text = text_of(r);
    if (out != nullptr) {
      if (r->type == REDIS_REPLY_ARRAY)
        for (size_t j = 0; j < r->elements; ++j)
          out->push_back(text_of(r->element[j]).value_or(""));
      else
        out->push_back(text.value_or(
            r->type == REDIS_REPLY_ERROR ? std::string{r->str, r->len} : ""));
    }
    if (r->type == REDIS_REPLY_ERROR)
      ok = false;
    freeReplyObject(r);
  }
  return ok;
}

bool redis_state::resync() {
  // What this replica learned while Redis was away goes back first.
  auto now = clock_type::now();
  for (size_t i = 0; i < shared_.size(); ++i) {
    auto& b = core_.deployments[i]->board;
    auto st = static_cast<breaker_state>(b.breaker.load());
    auto until = from_ns(b.open_until_ns.load());
    if (st == breaker_state::open && until > now)
      publish_breaker(i, st, until, b.reopens.load(), false);
    auto down = b.down_until_ns.load();
    if (down != 0 && from_ns(down) > now)
      publish_down(i, from_ns(down),
                   static_cast<error_class>(b.down_class.load()));
  }
  std::vector<command> cmds;
  {
    std::lock_guard guard{mtx_};
    cmds = std::move(outbox_);
    outbox_.clear();
  }
  return cmds.empty() || exec(cmds, nullptr);
}

bool redis_state::poll() {
  command mget{"MGET"};
  for (size_t i = 0; i < shared_.size(); ++i)
    mget.push_back(key("breaker", i));
  for (size_t i = 0; i < shared_.size(); ++i)
    mget.push_back(key("down", i));
  std::vector<std::string> values;
  if (!exec({mget}, &values) || values.size() != shared_.size() * 2)
    return false;
  for (size_t i = 0; i < shared_.size(); ++i) {
    apply_breaker(i, values[i]);
    apply_down(i, values[shared_.size() + i]);
  }
  return true;
}

void redis_state::apply_breaker(size_t idx, const std::string& value) {
  if (value.empty() || value == seen_breaker_[idx])
    return; // no news (a missing key tells nothing)
  seen_breaker_[idx] = value;
  char state[16] = {};
  long long until = 0;
  unsigned reopens = 0;
  if (std::sscanf(value.c_str(), "%15s %lld %u", state, &until, &reopens) != 3)
    return;
  auto& sh = *shared_[idx];
  bool open = std::string_view{state} == to_string(breaker_state::open);
  sh.breaker = static_cast<uint8_t>(open ? breaker_state::open
                                         : breaker_state::closed);
  sh.open_until_ns = open ? to_ns(from_unix_ms(until)) : 0;
  sh.reopens = reopens;
  sh.breaker_seq.fetch_add(1, std::memory_order_release);
  sh.seq.fetch_add(1, std::memory_order_release);
  poke(idx);
}

void redis_state::apply_down(size_t idx, const std::string& value) {
  if (value.empty() || value == seen_down_[idx])
    return;
  seen_down_[idx] = value;
  long long until = 0;
  char cls[32] = {};
  if (std::sscanf(value.c_str(), "%lld %31s", &until, cls) != 2)
    return;
  auto parsed = parse_error_class(cls);
  auto& sh = *shared_[idx];
  sh.down_until_ns = until < 0 ? INT64_MAX : to_ns(from_unix_ms(until));
  sh.down_class = static_cast<uint8_t>(parsed.value_or(error_class::auth));
  sh.seq.fetch_add(1, std::memory_order_release);
  poke(idx);
}

void redis_state::poke(size_t idx) {
  if (auto hdl = core_.directory.get(idx))
    caf::anon_send(hdl, shared_atom::value);
}

bool redis_state::serve_leases() {
  std::vector<size_t> asked;
  std::vector<command> cmds;
  auto lease_ms = std::chrono::duration_cast<milliseconds>(cfg_.probe_lease);
  for (size_t i = 0; i < shared_.size(); ++i) {
    if (!shared_[i]->want_lease.exchange(false))
      continue;
    asked.push_back(i);
    cmds.push_back({"SET", key("lease", i), replica_, "NX", "PX",
                    std::to_string(lease_ms.count())});
  }
  if (cmds.empty())
    return true;
  auto now = clock_type::now();
  std::vector<std::string> replies;
  if (!exec(cmds, &replies))
    return false;
  for (size_t j = 0; j < asked.size(); ++j)
    if (replies[j] == "OK") {
      shared_[asked[j]]->lease_until_ns = to_ns(now + cfg_.probe_lease);
      poke(asked[j]);
    }
  return true;
}

bool redis_state::serve_quotas(bool all) {
  auto window = unix_ms() / window_ms;
  std::vector<std::pair<size_t, shared_quota*>> asked;
  std::vector<command> cmds;
  for (size_t i = 0; i < shared_.size(); ++i) {
    auto& sh = *shared_[i];
    for (size_t j = 0; j < 2; ++j) {
      auto* q = j == 0 ? &sh.requests : &sh.tokens;
      auto slot = i * 2 + j;
      if (q->limit == 0)
        continue;
      bool wanted = q->want.exchange(false);
      if (window_[slot] != window) {
        window_[slot] = window;
        exhausted_[slot] = false;
        q->left = 0; // what is left of the last window is gone
        wanted = true;
      }
      if (exhausted_[slot] || !(wanted || all))
        continue;
      auto k = key(j == 0 ? "requests" : "tokens", i) + ":"
               + std::to_string(window);
      asked.emplace_back(slot, q);
      cmds.push_back({"INCRBY", k, std::to_string(q->slice)});
      cmds.push_back({"PEXPIRE", k, std::to_string(window_ms * 2)});
    }
  }
  if (cmds.empty())
    return true;
  std::vector<std::string> replies;
  if (!exec(cmds, &replies))
    return false;
  for (size_t j = 0; j < asked.size(); ++j) {
    auto [slot, q] = asked[j];
    int64_t total = std::stoll(replies[j * 2]);
    auto granted
        = std::clamp(q->limit - (total - q->slice), int64_t{0}, q->slice);
    q->left.fetch_add(granted);
    if (granted < q->slice)
      exhausted_[slot] = true;
  }
  return true;
}

} // namespace switchyard
