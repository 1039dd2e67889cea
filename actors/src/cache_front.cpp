#include "cache_front.hpp"

#include <algorithm>

namespace switchyard {

/// One caller of a flight.
struct cache_front::waiter {
  uint64_t id = 0;
  cache_outcome outcome = cache_outcome::miss;
  call_callback done;
  /// Streamed calls only.
  std::shared_ptr<stream_sink> sink;
  /// False once it got its answer (or left).
  bool active = true;
  /// False for a joiner until it was given what the flight delivered before
  /// it joined (`catch_up`); until then it gets no live events.
  bool caught_up = true;
};

/// One upstream call and the callers waiting for it.
struct cache_front::flight {
  /// Recursive: a caller's sink may cancel its own call from `on_event`.
  std::recursive_mutex mtx;
  std::string key;
  /// Registered in `inflight_`: identical calls may join.
  bool shared = false;
  bool stream = false;
  /// Store a successful answer under `key` for `ttl`.
  bool store = false;
  timespan ttl{};
  /// The upstream call's deadline; only calls that may wait as long join.
  time_point deadline{};
  uint64_t upstream_id = 0;
  /// Callers registered in `by_caller_` (guarded by the front's mutex).
  std::vector<uint64_t> ids;
  /// Joiners cancelled after they registered and before they were in
  /// `waiters`: each takes its `cancelled` answer instead of waiting.
  std::vector<uint64_t> cancelled_joiners;
  std::vector<std::shared_ptr<waiter>> waiters;
  /// Streams: the events so far, text and tool-call pieces merged (what a
  /// late joiner is replayed, and what the cache stores).
  std::vector<stream_event> events;
  /// Plain calls: the outcome, for a caller that joins after it came.
  std::optional<call_result> result;
  bool ended = false;
  /// Every caller left: the upstream call was cancelled.
  bool abandoned = false;
};

/// The upstream stream's sink: hands each event to the flight's callers.
class flight_sink final : public stream_sink {
public:
  flight_sink(cache_front* front, std::shared_ptr<cache_front::flight> f)
      : front_(front), flight_(std::move(f)) {
    // nop
  }

  bool on_event(stream_event ev) override {
    front_->on_event(flight_, ev);
    return true;
  }

private:
  cache_front* front_;
  std::shared_ptr<cache_front::flight> flight_;
};

namespace {

bool is_terminal(const stream_event& ev) {
  return std::holds_alternative<stream_end>(ev)
         || std::holds_alternative<stream_error>(ev);
}

/// Appends `ev` to a replay buffer, merging it into the previous event when
/// both are text, or pieces of the same tool call: a replay is then a few
/// events, whatever the number of chunks upstream.
void append_merged(std::vector<stream_event>& buf, const stream_event& ev) {
  if (!buf.empty()) {
    if (const auto* t = std::get_if<text_delta>(&ev)) {
      if (auto* last = std::get_if<text_delta>(&buf.back())) {
        last->text += t->text;
        return;
      }
    } else if (const auto* tc = std::get_if<tool_call_delta>(&ev)) {
      auto* last = std::get_if<tool_call_delta>(&buf.back());
      if (last != nullptr && last->index == tc->index) {
        if (last->id.empty())
          last->id = tc->id;
        last->name += tc->name;
        last->arguments += tc->arguments;
        return;
      }
    }
  }
  buf.push_back(ev);
}

/// A copy of `ev` for a caller whose outcome is `outcome`.
stream_event for_caller(const stream_event& ev, cache_outcome outcome) {
  auto copy = ev;
  if (auto* s = std::get_if<stream_start>(&copy))
    s->cache = outcome;
  return copy;
}

failure cancelled_failure() {
  return make_failure(engine_code::cancelled, "cancelled by the caller");
}

/// The absolute deadline the router gives a call (see router.cpp).
time_point deadline_of(const call_options& opts, time_point start,
                       timespan route_deadline) {
  time_point result;
  if (opts.deadline_at && !opts.deadline)
    result = *opts.deadline_at;
  else
    result = start + opts.deadline.value_or(route_deadline);
  if (opts.deadline_at)
    result = std::min(result, *opts.deadline_at);
  return result;
}

} // namespace

cache_front::cache_front(std::shared_ptr<engine_core> core, launch_fn launch,
                         cancel_fn cancel, clock_fn now, post_fn post)
    : core_(std::move(core)), launch_(std::move(launch)),
      cancel_(std::move(cancel)), now_(std::move(now)), post_(std::move(post)),
      cache_(core_->config->engine.cache) {
  // nop
}

cache_front::~cache_front() = default;

bool cache_front::wanted(const engine_config& cfg) {
  return std::any_of(cfg.routes.begin(), cfg.routes.end(), [](const auto& kv) {
    return kv.second.policy.cache.active();
  });
}

response_cache::counters cache_front::stats() const {
  return cache_.stats();
}

bool cache_front::start(uint64_t id, time_point start, chat_request& req,
                        call_options& opts, call_callback& done,
                        std::shared_ptr<stream_sink>& sink) {
  const auto* plan = core_->find_route(opts.route);
  if (plan == nullptr)
    return false;
  const auto& policy = plan->config->policy;
  const auto& cfg = policy.cache;
  if (!cfg.active() || !cache_eligible(cfg, req))
    return false;
  bool streamed = sink != nullptr;
  req.stream = streamed;
  auto key = cache_key(plan->config->name, opts.pin, req);
  auto now = now_();
  auto w = std::make_shared<waiter>();
  w->id = id;
  w->done = std::move(done);
  w->sink = std::move(sink);
  if (opts.bypass_cache) {
    w->outcome = cache_outcome::bypass;
  } else if (cfg.enabled) {
    if (auto hit = cache_.find(key, now)) {
      post_([this, w, hit = std::move(hit)] { deliver_hit(w, *hit); });
      return true;
    }
  }
  auto f = std::make_shared<flight>();
  f->key = std::move(key);
  f->stream = streamed;
  f->store = cfg.enabled;
  f->ttl = cfg.ttl;
  f->upstream_id = id;
  f->deadline = deadline_of(opts, start, policy.deadline);
  // Its caller goes in while no other thread sees the flight: a joiner adds
  // itself (under the flight's lock) as soon as the flight is registered.
  f->waiters.push_back(w);
  if (w->outcome != cache_outcome::bypass && cfg.coalescing()) {
    if (!cfg.enabled)
      w->outcome = cache_outcome::none;
    std::shared_ptr<flight> joined;
    std::shared_ptr<const cached_answer> late_hit;
    {
      std::lock_guard guard{mtx_};
      auto [i, added] = inflight_.try_emplace(f->key, f);
      if (!added) {
        // A caller that may not wait as long as the shared call runs its
        // own call instead (it is not shared). Its budget counts from now:
        // callers started together race here, and one that started a few
        // microseconds before the shared call must still join it.
        if (deadline_of(opts, now_(), policy.deadline) >= i->second->deadline)
          joined = i->second;
      } else if (cfg.enabled
                 && (late_hit = cache_.find(f->key, now_())) != nullptr) {
        // The identical call in flight ended since the lookup above: it
        // stored its answer before it unregistered, so this finds it.
        inflight_.erase(i);
      } else {
        f->shared = true;
      }
      if (joined || f->shared) {
        auto& target = joined ? joined : f;
        by_caller_.emplace(id, target);
        target->ids.push_back(id);
      }
    }
    if (late_hit) {
      post_([this, w, hit = std::move(late_hit)] { deliver_hit(w, *hit); });
      return true;
    }
    if (joined) {
      w->outcome = cache_outcome::coalesced;
      w->caught_up = false;
      if (join_hook_)
        join_hook_(id);
      bool cancelled = false;
      {
        std::lock_guard guard{joined->mtx};
        // A cancel that came since the registration above did not find
        // this caller among the waiters: it left a note instead.
        cancelled = std::erase(joined->cancelled_joiners, id) > 0;
        if (!cancelled)
          joined->waiters.push_back(w);
      }
      if (cancelled)
        post_([this, w] { deliver_cancelled(*w); });
      else
        post_([this, joined, w] { catch_up(joined, w); });
      return true;
    }
  }
  // The upstream call is counted on its own: each caller's count ends when
  // it gets its answer, the upstream one when the router ends it.
  core_->calls->started();
  std::shared_ptr<stream_sink> up_sink;
  call_callback up_done;
  if (streamed) {
    up_sink = std::make_shared<flight_sink>(this, f);
    up_done = [](const call_result&) {};
  } else {
    up_done = [this, f](call_result r) { on_result(f, std::move(r)); };
  }
  launch_(id, std::move(req), std::move(opts), std::move(up_done),
          std::move(up_sink));
  return true;
}

void cache_front::deliver_hit(const std::shared_ptr<waiter>& w,
                              const cached_answer& hit) {
  if (w->sink) {
    for (const auto& ev : std::get<std::vector<stream_event>>(hit)) {
      auto copy = for_caller(ev, cache_outcome::hit);
      if (auto* end = std::get_if<stream_end>(&copy))
        end->attempts.clear();
      // A replay is a few merged events; a sink that cannot take them still
      // gets its one terminal event.
      if (!w->sink->on_event(std::move(copy))) {
        w->sink->on_event(stream_error{
            make_failure(engine_code::slow_consumer,
                         "the caller did not take the cached stream"),
            {}});
        break;
      }
    }
  } else {
    auto res = std::get<chat_response>(hit);
    res.cache = cache_outcome::hit;
    w->done(std::move(res));
  }
  core_->calls->ended();
}

void cache_front::deliver_cancelled(waiter& w) {
  call_error err;
  err.failure = cancelled_failure();
  if (w.sink)
    w.sink->on_event(stream_error{err.failure, {}});
  else
    w.done(unexpected{std::move(err)});
  core_->calls->ended();
}

void cache_front::catch_up(const std::shared_ptr<flight>& f,
                           const std::shared_ptr<waiter>& w) {
  std::lock_guard guard{f->mtx};
  if (!w->active)
    return; // cancelled meanwhile: it has its answer
  if (f->stream) {
    // Everything so far, merged; the terminal event too if it came.
    for (const auto& ev : f->events) {
      if (!w->sink->on_event(for_caller(ev, w->outcome))) {
        w->sink->on_event(stream_error{
            make_failure(engine_code::slow_consumer,
                         "the caller did not take the shared stream"),
            {}});
        w->active = false;
        break;
      }
    }
    if (f->ended)
      w->active = false;
  } else if (f->result) {
    auto copy = *f->result;
    if (copy)
      copy->cache = w->outcome;
    w->done(std::move(copy));
    w->active = false;
  }
  w->caught_up = true;
  if (w->active)
    return;
  core_->calls->ended();
  std::erase(f->waiters, w);
  bool abandon = false;
  if (f->waiters.empty() && !f->ended && !f->abandoned) {
    f->abandoned = abandon = true;
  }
  if (f->ended || abandon)
    forget(*f);
  if (abandon)
    cancel_(f->upstream_id);
}

void cache_front::on_event(const std::shared_ptr<flight>& f,
                           const stream_event& ev) {
  bool terminal = is_terminal(ev);
  bool abandon = false;
  {
    std::lock_guard guard{f->mtx};
    if (f->ended)
      return;
    if (f->shared || f->store)
      append_merged(f->events, ev);
    if (terminal) {
      f->ended = true;
      // Stored and unregistered before any caller sees the end: a call
      // that starts after one of them finished is a hit, never a joiner of
      // a flight that is over.
      if (f->store && std::holds_alternative<stream_end>(ev)
          && cacheable_stream(f->events)) {
        auto events = f->events;
        std::get<stream_end>(events.back()).attempts.clear();
        cache_.store(f->key,
                     std::make_shared<const cached_answer>(std::move(events)),
                     now_(), f->ttl);
      }
      forget(*f);
    }
    // A sink may cancel its call from `on_event`: iterate over a copy.
    auto ws = f->waiters;
    for (auto& w : ws) {
      // A joiner not caught up yet gets this event from `events`.
      if (!w->active || !w->caught_up)
        continue;
      if (terminal) {
        w->active = false;
        w->sink->on_event(for_caller(ev, w->outcome));
        core_->calls->ended();
      } else if (!w->sink->on_event(for_caller(ev, w->outcome))) {
        w->active = false;
        w->sink->on_event(stream_error{
            make_failure(engine_code::slow_consumer,
                         "the caller did not read the shared stream fast "
                         "enough; it left it"),
            {}});
        core_->calls->ended();
      }
    }
    std::erase_if(f->waiters, [](const auto& w) { return !w->active; });
    if (!terminal && f->waiters.empty() && !f->abandoned) {
      f->abandoned = abandon = true;
      forget(*f);
    }
  }
  if (abandon)
    cancel_(f->upstream_id);
}

void cache_front::on_result(const std::shared_ptr<flight>& f, call_result r) {
  if (r && f->store) {
    auto stored = *r;
    stored.attempts.clear();
    stored.cache = cache_outcome::none;
    cache_.store(f->key,
                 std::make_shared<const cached_answer>(std::move(stored)),
                 now_(), f->ttl);
  }
  std::lock_guard guard{f->mtx};
  if (f->ended)
    return;
  f->ended = true;
  if (f->shared)
    f->result = r;
  // Unregistered before any caller has the answer (see `on_event`).
  forget(*f);
  auto ws = f->waiters;
  f->waiters.clear();
  for (auto& w : ws) {
    // A joiner not caught up yet takes `result` in `catch_up`.
    if (!w->active || !w->caught_up)
      continue;
    w->active = false;
    auto copy = r;
    if (copy)
      copy->cache = w->outcome;
    w->done(std::move(copy));
    core_->calls->ended();
  }
}

void cache_front::forget(flight& f) {
  if (!f.shared)
    return;
  std::lock_guard guard{mtx_};
  if (auto i = inflight_.find(f.key);
      i != inflight_.end() && i->second.get() == &f)
    inflight_.erase(i);
  // Once the flight ended or was abandoned, none of its callers waits on it.
  for (auto id : f.ids)
    if (auto i = by_caller_.find(id);
        i != by_caller_.end() && i->second.get() == &f)
      by_caller_.erase(i);
  f.ids.clear();
}

bool cache_front::cancel(uint64_t id) {
  std::shared_ptr<flight> f;
  {
    std::lock_guard guard{mtx_};
    auto i = by_caller_.find(id);
    if (i == by_caller_.end())
      return false;
    f = i->second;
    by_caller_.erase(i);
  }
  bool abandon = false;
  {
    std::lock_guard guard{f->mtx};
    auto i = std::find_if(f->waiters.begin(), f->waiters.end(),
                          [id](const auto& w) { return w->id == id; });
    if (i == f->waiters.end()) {
      // A joiner between its registration and its wait (`start`), which
      // reads the note. (Or a caller that had its answer while the flight
      // goes on: nobody reads that note, and it goes with the flight.)
      f->cancelled_joiners.push_back(id);
      return true;
    }
    if (!(*i)->active)
      return true;
    auto w = *i;
    w->active = false;
    f->waiters.erase(i);
    deliver_cancelled(*w);
    if (f->waiters.empty() && !f->ended && !f->abandoned) {
      f->abandoned = abandon = true;
      forget(*f);
    }
  }
  if (abandon)
    cancel_(f->upstream_id);
  return true;
}

} // namespace switchyard
