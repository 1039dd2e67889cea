#include "state_snapshots.hpp"

#include "engine_core.hpp"
#include "state_log.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <pthread.h>
#include <sstream>

namespace switchyard {

namespace {

using std::chrono::milliseconds;

int64_t unix_now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Monotonic time point -> Unix ms, relative to `now` (on the same clock).
int64_t to_unix(time_point t, time_point now) {
  return unix_now_ms()
         + std::chrono::duration_cast<milliseconds>(t - now).count();
}

/// Unix ms -> monotonic time point relative to `now`.
time_point from_unix(int64_t ms, time_point now) {
  return now + milliseconds{ms - unix_now_ms()};
}

} // namespace

state_snapshot capture_snapshot(const engine_core& core, time_point now) {
  constexpr auto relaxed = std::memory_order_relaxed;
  state_snapshot out;
  out.written_ms = unix_now_ms();
  for (const auto& rt : core.deployments) {
    const auto& b = rt->board;
    deployment_snapshot d;
    d.name = rt->config.name;
    d.breaker = static_cast<breaker_state>(b.breaker.load(relaxed));
    d.reopens = b.reopens.load(relaxed);
    if (d.breaker == breaker_state::half_open) {
      // Its probe's verdict is unknown: open, probing again at once.
      d.breaker = breaker_state::open;
      d.open_until_ms = out.written_ms;
    } else if (d.breaker == breaker_state::open) {
      d.open_until_ms = to_unix(from_ns(b.open_until_ns.load(relaxed)), now);
    }
    if (auto down = b.down_until_ns.load(relaxed);
        down != 0 && from_ns(down) > now) {
      d.down_until_ms = from_ns(down) == time_point::max()
                            ? -1
                            : to_unix(from_ns(down), now);
      d.down_class = static_cast<error_class>(b.down_class.load(relaxed));
    }
    out.deployments.push_back(std::move(d));
  }
  return out;
}

size_t restore_snapshot(engine_core& core, const state_snapshot& snap,
                        time_point now) {
  size_t changed = 0;
  std::string skipped;
  for (const auto& d : snap.deployments) {
    auto i = core.deployment_index.find(d.name);
    if (i == core.deployment_index.end()) {
      skipped += skipped.empty() ? "" : ", ";
      skipped += d.name;
      continue;
    }
    auto& rt = *core.deployments[i->second];
    bool touched = false;
    switch (d.breaker) {
      case breaker_state::open:
        // An open period that passed while the engine was away ends with
        // one probe, not with full traffic.
        rt.breaker.adopt(now, breaker_state::open,
                         std::max(from_unix(d.open_until_ms, now), now),
                         d.reopens);
        touched = true;
        break;
      case breaker_state::forced_open:
        rt.breaker.force_open(now);
        touched = true;
        break;
      case breaker_state::forced_closed:
        rt.breaker.force_closed(now);
        touched = true;
        break;
      default:
        break;
    }
    rt.breaker.take_transition(); // the provider actor starts from here
    rt.publish_breaker(now);
    if (d.down_until_ms != 0) {
      auto until = d.down_until_ms < 0 ? time_point::max()
                                       : from_unix(d.down_until_ms, now);
      if (until > now) {
        failure f;
        f.cls = d.down_class;
        f.message = "marked down before the restart ("
                    + std::string{to_string(d.down_class)} + ")";
        rt.mark_down(until, std::move(f));
        touched = true;
      }
    }
    changed += touched ? 1 : 0;
  }
  if (!skipped.empty())
    state_log("snapshot names deployments this config does not have, "
              "skipped: "
              + skipped);
  return changed;
}

void restore_snapshot_file(engine_core& core, const std::string& path,
                           time_point now) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    if (errno != ENOENT)
      state_log("cannot read snapshot " + path + " (" + std::strerror(errno)
                + "): starting without it");
    return;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  auto snap = decode_snapshot(buf.str());
  if (!snap) {
    state_log("ignoring corrupt snapshot " + path + ": " + snap.error());
    return;
  }
  auto n = restore_snapshot(core, *snap, now);
  if (n > 0)
    state_log("restored the state of " + std::to_string(n)
              + " deployment(s) from " + path);
}

snapshot_writer::snapshot_writer(snapshot_config cfg, const engine_core& core)
    : cfg_(std::move(cfg)), core_(core) {
  thread_ = std::thread{[this] { run(); }};
}

snapshot_writer::~snapshot_writer() {
  stop();
}

void snapshot_writer::stop() {
  {
    std::lock_guard guard{mtx_};
    if (stopping_)
      return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  write();
}

void snapshot_writer::run() {
  pthread_setname_np(pthread_self(), "sy-snapshots");
  std::unique_lock lk{mtx_};
  while (!cv_.wait_for(lk, cfg_.interval, [this] { return stopping_; })) {
    lk.unlock();
    write();
    lk.lock();
  }
}

void snapshot_writer::write() {
  auto text = encode_snapshot(capture_snapshot(core_, clock_type::now()));
  auto err = write_file_atomically(cfg_.path, text);
  if (err && !failing_)
    state_log("cannot write snapshot: " + *err);
  else if (!err && failing_)
    state_log("writing snapshots to " + cfg_.path + " again");
  failing_ = err.has_value();
}

} // namespace switchyard
