#include "switchyard/engine.hpp"

#include "cache_front.hpp"
#include "engine_core.hpp"
#include "observability.hpp"
#include "redis_state.hpp"
#include "router.hpp"
#include "state_snapshots.hpp"
#include "supervisor.hpp"
#include "switchyard/actors.hpp"
#include "testing.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include <caf/all.hpp>

namespace switchyard {

/// A job for a courier actor (`cache_front`'s deliveries).
struct courier_job {
  std::function<void()> run;
};

} // namespace switchyard

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::courier_job)

namespace switchyard {

/// The engine's parts. Shutdown stops every actor and the transport, but
/// resets none of these: the actor system, the core and the router handles
/// live until the engine is destroyed, so that `cancel`, `status`,
/// `complete`, `stream` and `control` racing a shutdown on other threads
/// read nothing freed (a message to a stopped actor is dropped).
struct engine::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<engine_core> core;
  /// State kept across restarts and shared with other replicas; stopped
  /// once no actor runs.
  std::unique_ptr<redis_state> redis;
  std::unique_ptr<snapshot_writer> snapshots;
  supervisor_actor sup;
  /// The core's call counter and configuration.
  std::shared_ptr<call_counter> calls;
  std::shared_ptr<const engine_config> config;
  /// The router shards; a call's id picks its shard. Fixed after create.
  std::vector<router_actor> routers;
  /// Response cache and coalescing; null when no route has a cache.
  std::unique_ptr<cache_front> cache;
  /// Run `cache`'s deliveries on engine threads (one per router shard).
  std::vector<caf::actor> couriers;
  std::atomic<size_t> next_courier{0};
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> accepting{true};
  std::atomic<bool> stopped{false};
  /// Set once every actor has stopped.
  std::atomic<bool> halted{false};
  /// The event log and how a metrics registry's scrape reaches `status()`.
  observers observed;

  const router_actor& router_of(uint64_t id) const {
    return routers[id % routers.size()];
  }

  /// Hands call `id` to its router.
  void route(uint64_t id, chat_request req, call_options opts,
             call_callback done, std::shared_ptr<stream_sink> sink,
             time_point start = {}) {
    call_start cs;
    cs.id = id;
    cs.start = start != time_point{} ? start : sys->clock().now();
    cs.request = std::make_shared<const chat_request>(std::move(req));
    cs.options = std::move(opts);
    cs.done = std::move(done);
    cs.sink = std::move(sink);
    if (!send_from_callback(router_of(id), cs))
      caf::anon_send(router_of(id), call_atom::value, std::move(cs));
  }
};

namespace {

/// Restores the snapshot and starts the snapshot writer and the Redis
/// client the config asks for, before the provider actors start.
void start_state(engine::impl& d, time_point now) {
  const auto& cfg = d.core->config->state;
  if (!cfg.snapshot.path.empty()) {
    restore_snapshot_file(*d.core, cfg.snapshot.path, now);
    d.snapshots = std::make_unique<snapshot_writer>(cfg.snapshot, *d.core);
  }
  if (!cfg.redis.url.empty()) {
    d.redis = std::make_unique<redis_state>(cfg.redis, *d.core);
    d.core->redis = d.redis.get();
  }
}

} // namespace

engine::engine(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

engine::~engine() {
  shutdown();
  impl_->observed.link->bind(nullptr);
}

expected<std::unique_ptr<engine>, std::string>
engine::create(engine_config cfg, engine_options opts) {
  if (cfg.routes.empty())
    return unexpected{std::string{"configuration has no routes"}};
  auto ptr = std::make_unique<impl>();
  auto observed = attach_observers(cfg, opts);
  if (!observed)
    return unexpected{observed.error()};
  ptr->observed = std::move(*observed);
  auto threads
      = cfg.engine.threads != 0
            ? size_t{cfg.engine.threads}
            : size_t{std::max(1u, std::thread::hardware_concurrency())};
  ptr->cfg.set("scheduler.max-threads", threads);
  // An idle CAF worker polls its queue 100 times, then naps 50 us between
  // polls 500 times, then sleeps until work is enqueued for it. The napping
  // phase cost more than it saved: a worker that ran out of work woke up
  // some 20,000 times a second for nothing, and a call handed to it waited
  // for the end of a nap. Without it (bench-engine_inprocess, 2 threads):
  // 170k -> 240k calls/s, 8.0 -> 4.4 us CPU per call; the time to first
  // token (bench-stream_ttft) fell by 25-30 us at the median.
  ptr->cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  ptr->sys = std::make_unique<caf::actor_system>(ptr->cfg);
  auto client = opts.client;
  if (!client)
    client = std::make_shared<transport>(cfg.engine.transport);
  auto seed = opts.seed != 0 ? opts.seed : std::random_device{}();
  auto now = ptr->sys->clock().now();
  ptr->core = std::make_shared<engine_core>(std::move(cfg), std::move(client),
                                            std::move(opts.events), seed, now);
  ptr->calls = ptr->core->calls;
  ptr->config = ptr->core->config;
  start_state(*ptr, now);
  ptr->sup = ptr->sys->spawn(supervisor, ptr->core);
  for (size_t i = 0; i < threads; ++i)
    ptr->routers.push_back(ptr->sys->spawn(router, ptr->core));
  // Wait until every provider actor is registered before taking calls.
  caf::scoped_actor waiter{*ptr->sys};
  bool ready = false;
  waiter->request(ptr->sup, std::chrono::seconds{10}, providers_atom::value)
      .receive([&](const std::vector<provider_actor>&) { ready = true; },
               [&](caf::error&) { ready = false; });
  if (!ready)
    return unexpected{std::string{"engine failed to start its providers"}};
  if (cache_front::wanted(*ptr->config)) {
    auto* d = ptr.get();
    ptr->cache = std::make_unique<cache_front>(
        ptr->core,
        [d](uint64_t id, chat_request req, call_options opts,
            call_callback done, std::shared_ptr<stream_sink> sink) {
          d->route(id, std::move(req), std::move(opts), std::move(done),
                   std::move(sink));
        },
        [d](uint64_t id) {
          if (!d->halted.load())
            caf::anon_send(d->router_of(id), cancel_atom::value, id);
        },
        [d] { return d->sys->clock().now(); },
        [d](std::function<void()> job) {
          auto i = d->next_courier.fetch_add(1, std::memory_order_relaxed);
          caf::anon_send(d->couriers[i % d->couriers.size()],
                         courier_job{std::move(job)});
        });
    for (size_t i = 0; i < threads; ++i)
      // One (unused) argument: CAF 0.17 dereferences a null argument
      // tuple when a function actor is spawned without any (UBSan).
      ptr->couriers.push_back(ptr->sys->spawn(
          [](int) -> caf::behavior {
            return {[](courier_job& job) { job.run(); }};
          },
          0));
  }
  auto link = ptr->observed.link;
  auto eng = std::unique_ptr<engine>{new engine(std::move(ptr))};
  link->bind(eng.get());
  return eng;
}

expected<std::unique_ptr<engine>, std::string>
engine::from_file(const std::string& path, engine_options opts) {
  auto cfg = load_config_file(path);
  if (!cfg)
    return unexpected{to_string(cfg.error())};
  return create(std::move(*cfg), std::move(opts));
}

expected<std::unique_ptr<engine>, std::string>
engine::from_json(std::string_view json, engine_options opts) {
  auto cfg = parse_config(json);
  if (!cfg)
    return unexpected{to_string(cfg.error())};
  return create(std::move(*cfg), std::move(opts));
}

uint64_t engine::complete(chat_request req, call_options opts,
                          call_callback done) {
  return start(std::move(req), std::move(opts), std::move(done), nullptr);
}

uint64_t engine::start(chat_request req, call_options opts, call_callback done,
                       std::shared_ptr<stream_sink> sink) {
  auto& d = *impl_;
  // Counted before the check: a shutdown that stops accepting after this
  // call passed it then waits for it (both are sequentially consistent).
  d.calls->started();
  if (!d.accepting.load()) {
    d.calls->ended();
    call_error err;
    err.failure
        = make_failure(engine_code::shutdown, "the engine is shutting down");
    if (sink)
      sink->on_event(stream_error{err.failure, {}});
    done(unexpected{std::move(err)});
    return 0;
  }
  auto id = d.next_id.fetch_add(1, std::memory_order_relaxed);
  if (sink)
    sink->on_call_id(id);
  auto now = d.sys->clock().now();
  if (d.cache && d.cache->start(id, now, req, opts, done, sink))
    return id;
  d.route(id, std::move(req), std::move(opts), std::move(done), std::move(sink),
          now);
  return id;
}

call_handle engine::complete(chat_request req, call_options opts) {
  auto promise = std::make_shared<std::promise<call_result>>();
  auto fut = promise->get_future();
  auto id = complete(std::move(req), std::move(opts), [promise](call_result r) {
    promise->set_value(std::move(r));
  });
  return call_handle{this, id, std::move(fut)};
}

void call_handle::cancel() {
  if (owner_ != nullptr && id_ != 0)
    owner_->cancel(id_);
}

namespace {

/// Adapts a push callback to the sink interface.
class callback_sink final : public stream_sink {
public:
  explicit callback_sink(stream_callback fn) : fn_(std::move(fn)) {
    // nop
  }

  bool on_event(stream_event ev) override {
    fn_(std::move(ev));
    return true;
  }

private:
  stream_callback fn_;
};

bool is_terminal(const stream_event& ev) {
  return std::holds_alternative<stream_end>(ev)
         || std::holds_alternative<stream_error>(ev);
}

} // namespace

/// The bounded queue between a streamed call and its reader.
struct stream_reader::buffer final : stream_sink {
  explicit buffer(size_t cap) : capacity(cap) {
    // nop
  }

  bool on_event(stream_event ev) override {
    bool terminal = is_terminal(ev);
    {
      std::lock_guard guard{mtx};
      // The terminal event always fits: the stream never ends unsaid.
      if (!terminal && events.size() >= capacity)
        return false;
      events.push_back(std::move(ev));
      ended = ended || terminal;
    }
    cv.notify_one();
    return true;
  }

  size_t capacity;
  mutable std::mutex mtx;
  std::condition_variable cv;
  std::deque<stream_event> events;
  /// The engine delivered the terminal event.
  bool ended = false;
  /// The reader returned it.
  bool done = false;
};

stream_reader::stream_reader(engine* owner, uint64_t id,
                             std::shared_ptr<buffer> buf)
    : owner_(owner), id_(id), buf_(std::move(buf)) {
  // nop
}

stream_reader::~stream_reader() {
  bool ended = false;
  {
    std::lock_guard guard{buf_->mtx};
    ended = buf_->ended;
  }
  if (!ended)
    cancel();
}

std::optional<stream_event> stream_reader::next(timespan timeout) {
  std::unique_lock guard{buf_->mtx};
  if (buf_->done)
    return std::nullopt;
  if (!buf_->cv.wait_for(guard, timeout,
                         [this] { return !buf_->events.empty(); }))
    return std::nullopt;
  auto ev = std::move(buf_->events.front());
  buf_->events.pop_front();
  if (is_terminal(ev))
    buf_->done = true;
  return ev;
}

bool stream_reader::done() const {
  std::lock_guard guard{buf_->mtx};
  return buf_->done;
}

void stream_reader::cancel() {
  if (id_ != 0)
    owner_->cancel(id_);
}

uint64_t engine::stream(chat_request req, call_options opts,
                        std::shared_ptr<stream_sink> sink) {
  req.stream = true;
  return start(
      std::move(req), std::move(opts), [](const call_result&) {},
      std::move(sink));
}

uint64_t engine::stream(chat_request req, call_options opts,
                        stream_callback on_event) {
  return stream(std::move(req), std::move(opts),
                std::make_shared<callback_sink>(std::move(on_event)));
}

std::unique_ptr<stream_reader> engine::stream(chat_request req,
                                              call_options opts) {
  size_t cap = stream_settings{}.buffer_events;
  if (auto* plan = impl_->core->find_route(opts.route))
    cap = plan->config->policy.stream.buffer_events;
  auto buf = std::make_shared<stream_reader::buffer>(cap);
  auto id = stream(std::move(req), std::move(opts), buf);
  return std::unique_ptr<stream_reader>{new stream_reader(this, id, buf)};
}

void engine::cancel(uint64_t call_id) {
  auto& d = *impl_;
  if (call_id == 0 || d.halted.load())
    return;
  if (d.cache && d.cache->cancel(call_id))
    return;
  caf::anon_send(d.router_of(call_id), cancel_atom::value, call_id);
}

engine_status engine::status() const {
  auto& d = *impl_;
  auto& core = *d.core;
  auto now = d.sys->clock().now();
  engine_status out;
  out.calls_running = d.calls->running();
  out.deployments.reserve(core.deployments.size());
  for (size_t i = 0; i < core.deployments.size(); ++i) {
    auto st = core.view(i).status(now);
    out.calls_queued += st.queued;
    out.deployments.push_back(std::move(st));
  }
  for (const auto& [name, plan] : core.routes) {
    route_status rs;
    rs.name = name;
    for (auto dep : plan.targets)
      rs.targets.push_back(core.view(dep).config().name);
    if (auto dep = current_target(core, plan, now))
      rs.current = core.view(*dep).config().name;
    out.routes.push_back(std::move(rs));
  }
  return out;
}

bool engine::control(std::string_view deployment, deployment_command cmd) {
  auto& d = *impl_;
  if (d.stopped.load())
    return false;
  auto i = d.core->deployment_index.find(deployment);
  if (i == d.core->deployment_index.end())
    return false;
  // Synchronous, so that what the caller reads next (status(), a call)
  // already sees the command applied. The provider answers at once; the
  // bound covers an actor that crashes meanwhile.
  caf::scoped_actor self{*d.sys};
  bool applied = false;
  self->request(d.core->directory.get(i->second), std::chrono::seconds{5},
                control_atom::value, cmd)
      .receive([&](bool ok) { applied = ok; }, [&](caf::error&) {});
  return applied;
}

void engine::shutdown(timespan drain) {
  auto& d = *impl_;
  if (d.stopped.exchange(true))
    return;
  d.accepting = false;
  bool drained = d.calls->wait_idle(drain);
  if (!drained) {
    for (auto& r : d.routers)
      caf::anon_send(r, cancel_atom::value);
    d.calls->wait_idle(std::chrono::seconds{5});
  }
  for (auto& r : d.routers)
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  for (auto& c : d.couriers)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(d.sup, caf::exit_reason::user_shutdown);
  d.sys->await_all_actors_done();
  d.halted = true;
  if (d.redis) {
    d.redis->stop();
    d.core->redis = nullptr;
  }
  if (d.snapshots)
    d.snapshots->stop(); // the last snapshot holds the final state
  // No actor runs any more: stop the transport. The core, the routers'
  // handles and the actor system stay until the engine is destroyed (see
  // `impl`).
  d.core->client.reset();
  if (d.observed.log) {
    d.observed.log->note(log_level::info, "shutdown", {{"drained", drained}});
    d.observed.log->flush();
  }
}

std::string_view to_string(deployment_command cmd) noexcept {
  switch (cmd) {
    case deployment_command::force_open:
      return "force-open";
    case deployment_command::force_closed:
      return "force-closed";
    case deployment_command::disable:
      return "disable";
    case deployment_command::enable:
      return "enable";
    case deployment_command::reset:
      return "reset";
  }
  return "unknown";
}

std::optional<deployment_command>
parse_deployment_command(std::string_view name) noexcept {
  for (auto cmd :
       {deployment_command::force_open, deployment_command::force_closed,
        deployment_command::disable, deployment_command::enable,
        deployment_command::reset})
    if (to_string(cmd) == name)
      return cmd;
  return std::nullopt;
}

/// The test hooks' way in (a friend of `engine`).
struct engine_access {
  static engine::impl& of(engine& eng) noexcept {
    return *eng.impl_;
  }
};

bool testing::crash_provider(engine& eng, std::string_view deployment) {
  auto& d = engine_access::of(eng);
  if (d.stopped.load()
      || d.core->deployment_index.find(deployment)
             == d.core->deployment_index.end())
    return false;
  caf::anon_send(d.sup, crash_atom::value, std::string{deployment});
  return true;
}

bool testing::on_cache_join(engine& eng, std::function<void(uint64_t)> f) {
  auto& d = engine_access::of(eng);
  if (!d.cache)
    return false;
  d.cache->set_join_hook(std::move(f));
  return true;
}

const engine_config& engine::config() const noexcept {
  return *impl_->config;
}

} // namespace switchyard
