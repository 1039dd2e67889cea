#include "runner.hpp"

#include "input.hpp"
#include "journal.hpp"
#include "openai_response.hpp"
#include "report.hpp"
#include "switchyard/engine.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <unistd.h>

namespace switchyard::batch {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// -- signals ------------------------------------------------------------------

std::atomic<int> signals_seen{0};

extern "C" void on_stop_signal(int) {
  signals_seen.fetch_add(1, std::memory_order_relaxed);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = &on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// -- completions --------------------------------------------------------------

/// Outcomes handed over from engine threads to the run loop.
struct inbox {
  struct item {
    size_t slot;
    call_result result;
  };
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<item> items;
  /// True while the run loop waits on `cv` (only then is it woken).
  bool sleeping = false;
};

/// One line in the engine (or waiting to be sent again).
struct slot {
  bool busy = false;
  bool waiting = false;   // requeued, sent again at `retry_at`
  bool cancelled = false; // cancelled at the end of the grace period
  uint64_t line = 0;
  std::string custom_id;
  std::string route;
  chat_request req;
  clock_type::time_point first_sent{};
  clock_type::time_point retry_at{};
  uint32_t requeued = 0;
  uint64_t call_id = 0;
};

/// How long a line waits before it goes again, when the engine refused it
/// locally because no target could take it now.
struct requeue_wait {
  timespan wait;
  /// Whether no other line should start meanwhile (every target is out, not
  /// just full).
  bool hold_all = false;
};

/// A wait when the engine refused the call locally because no target could
/// take it now (open breakers, local rate limits, full queues): the line
/// waits and goes again instead of failing. Nothing for real failures.
std::optional<requeue_wait> requeue_hint(const call_error& err) {
  const auto& f = err.failure;
  if (f.is(engine_code::all_targets_unavailable)) {
    if (err.retry_in)
      return requeue_wait{*err.retry_in, true};
    return std::nullopt; // down for good (auth, quota): a real failure
  }
  if (f.is(engine_code::local_rate_limit))
    return requeue_wait{err.retry_in.value_or(milliseconds{50}), true};
  if (f.is(engine_code::queue_full))
    return requeue_wait{err.retry_in.value_or(milliseconds{10}), false};
  return std::nullopt;
}

enum class stop_reason { none, signal, max_failures, write_error };

/// How long cancelled calls may take to end after the grace period.
constexpr auto cancel_wait = std::chrono::seconds{10};

class batch_run {
public:
  batch_run(const run_options& opts, engine& eng, journal& out,
            std::vector<bool>& done, batch_stats& stats)
      : opts_(opts), eng_(eng), out_(out), done_(done), stats_(stats),
        box_(std::make_shared<inbox>()),
        slots_(std::max<size_t>(opts.concurrency, 1)),
        display_(::isatty(STDERR_FILENO) == 1, opts.progress_every,
                 opts.quiet) {
    rules_.route_override = opts.route;
    for (const auto& [name, r] : eng.config().routes)
      rules_.routes.push_back(name);
    rules_.default_route = eng.config().default_route;
    nonce_ = std::random_device{}();
    nonce_ = (nonce_ << 32) ^ std::random_device{}();
    window_ = static_cast<double>(slots_.size());
    const auto& cfg = eng.config();
    for (const auto& [name, r] : cfg.routes)
      if (!r.targets.empty())
        primary_[name] = r.targets.front().deployment;
    if (auto it = primary_.find(cfg.default_route); it != primary_.end())
      primary_[""] = it->second;
    for (size_t i = slots_.size(); i > 0; --i)
      free_.push_back(i - 1);
  }

  stop_reason run(line_source& in) {
    while (true) {
      auto now = clock_type::now();
      check_stop(now);
      if (stop_ == stop_reason::none) {
        start_requeued(now);
        feed(in, now);
      }
      display_.tick(stats_, in_engine(), now);
      drain();
      out_.tick(clock_type::now());
      if (!out_.write_error().empty() && stop_ == stop_reason::none)
        stop(stop_reason::write_error, now);
      if (busy() == 0 && (input_done_ || stop_ != stop_reason::none))
        break;
      if (cancelled_ && clock_type::now() > grace_end_ + cancel_wait) {
        // The engine did not confirm every cancel: what it still holds is
        // not written (a resume sends it again).
        display_.clear();
        std::cerr << "switchyard-batch: " << in_engine()
                  << " cancelled calls did not end; leaving them\n";
        break;
      }
      wait_for_work();
    }
    display_.clear();
    return stop_;
  }

  bool input_failed() const noexcept {
    return input_failed_;
  }

private:
  size_t busy() const noexcept {
    return slots_.size() - free_.size();
  }

  /// Lines in the engine now (not waiting to be sent again).
  size_t in_engine() const noexcept {
    return busy() - waiting_;
  }

  /// True when the congestion window allows one more line in the engine.
  bool may_send() const noexcept {
    return static_cast<double>(in_engine()) < window_;
  }

  void stop(stop_reason why, clock_type::time_point now) {
    stop_ = why;
    grace_end_ = now + opts_.grace;
    // Requeued lines are not in the engine: drop them (a resume sends them).
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].busy && slots_[i].waiting)
        release(i);
  }

  void check_stop(clock_type::time_point now) {
    auto sigs = signals_seen.load(std::memory_order_relaxed);
    if (sigs > 0 && stop_ != stop_reason::signal) {
      display_.clear();
      std::cerr << "switchyard-batch: stopping: no new lines; waiting up to "
                << opts_.grace.count() << " ms for " << busy()
                << " in flight (signal again to cancel them now)\n";
      stop(stop_reason::signal, now);
      signals_at_stop_ = sigs;
    } else if (stop_ == stop_reason::signal && sigs > signals_at_stop_) {
      grace_end_ = now;
    }
    if (stop_ != stop_reason::none && now >= grace_end_ && !cancelled_) {
      cancelled_ = true;
      for (auto& s : slots_)
        if (s.busy && !s.waiting) {
          s.cancelled = true;
          eng_.cancel(s.call_id);
        }
    }
  }

  void feed(line_source& in, clock_type::time_point now) {
    while (!input_done_ && !free_.empty() && now >= hold_until_ && may_send()
           && stop_ == stop_reason::none) {
      auto text = in.next();
      if (!text) {
        input_done_ = true;
        input_failed_ = in.failed();
        return;
      }
      if (is_blank(*text))
        continue;
      auto number = in.number();
      auto parsed = read_batch_line(*text, number, rules_);
      bool already = number < done_.size() && done_[number];
      if (auto* p = std::get_if<line_problem>(&parsed)) {
        if (!already)
          write_problem(*p);
        continue;
      }
      auto& line = std::get<batch_line>(parsed);
      if (!ids_.insert(line.custom_id)) {
        if (!already)
          write_problem({number, line.custom_id, "duplicate_custom_id",
                         "line " + std::to_string(number) + ": custom_id \""
                             + line.custom_id
                             + "\" was used by an earlier line"});
        continue;
      }
      if (already)
        continue;
      auto i = free_.back();
      free_.pop_back();
      auto& s = slots_[i];
      s.busy = true;
      s.waiting = false;
      s.cancelled = false;
      s.line = number;
      s.custom_id = std::move(line.custom_id);
      s.route = std::move(line.route);
      s.req = std::move(line.req);
      s.requeued = 0;
      s.first_sent = now;
      send(i);
    }
  }

  void send(size_t i) {
    auto& s = slots_[i];
    call_options co;
    co.route = s.route;
    s.call_id
        = eng_.complete(s.req, std::move(co), [box = box_, i](call_result r) {
            std::lock_guard guard{box->mtx};
            box->items.push_back({i, std::move(r)});
            if (box->sleeping)
              box->cv.notify_one();
          });
  }

  void start_requeued(clock_type::time_point now) {
    if (waiting_ == 0 || now < hold_until_)
      return;
    for (size_t i = 0; i < slots_.size(); ++i) {
      auto& s = slots_[i];
      if (s.busy && s.waiting && now >= s.retry_at && may_send()) {
        s.waiting = false;
        --waiting_;
        send(i);
      }
    }
  }

  void drain() {
    {
      std::lock_guard guard{box_->mtx};
      taken_.swap(box_->items);
    }
    for (auto& it : taken_)
      finish(it.slot, std::move(it.result));
    taken_.clear();
  }

  void finish(size_t i, call_result result) {
    auto& s = slots_[i];
    auto now = clock_type::now();
    auto took = std::chrono::duration_cast<milliseconds>(now - s.first_sent);
    line_meta meta{s.line,     s.custom_id, took,
                   s.requeued, nonce_,      primary_[s.route]};
    if (result) {
      // Additive increase: one more line in the engine per window of
      // answers, up to --concurrency.
      window_ = std::min(static_cast<double>(slots_.size()),
                         window_ + 1.0 / window_);
      stats_.add_answer(*result, took,
                        fell_back(result->attempts, meta.primary),
                        eng_.config());
      out_.append(render_answer(meta, *result));
      release(i);
      return;
    }
    auto& err = result.error();
    if (s.cancelled && err.failure.cls == error_class::cancelled) {
      release(i); // not written: a resume sends it again
      return;
    }
    if (stop_ == stop_reason::none) {
      if (auto hint = requeue_hint(err); hint && took < opts_.requeue_limit) {
        auto d = std::clamp<timespan>(hint->wait, milliseconds{1},
                                      std::chrono::seconds{60});
        // Multiplicative decrease: the engine just said that this many
        // lines are too many.
        window_ = std::max(
            1.0, std::min(window_, static_cast<double>(in_engine()) - 1));
        s.waiting = true;
        s.retry_at = now + d;
        if (hint->hold_all)
          hold_until_ = std::max(hold_until_, s.retry_at);
        ++s.requeued;
        ++waiting_;
        ++stats_.requeues;
        return;
      }
    } else if (requeue_hint(err)) {
      release(i); // stopping: not written, a resume sends it
      return;
    }
    stats_.add_failure(err, took);
    out_.append(render_failure(meta, err));
    release(i);
    count_failure(now);
  }

  void write_problem(const line_problem& p) {
    line_meta meta{p.number, p.custom_id, milliseconds{0}, 0, nonce_, {}};
    stats_.add_invalid(p.code);
    out_.append(render_problem(meta, p.code, p.message));
    count_failure(clock_type::now());
  }

  void count_failure(clock_type::time_point now) {
    if (opts_.max_failures > 0 && stop_ == stop_reason::none
        && stats_.failures() >= opts_.max_failures) {
      display_.clear();
      std::cerr << "switchyard-batch: --max-failures " << opts_.max_failures
                << " reached: stopping\n";
      stop(stop_reason::max_failures, now);
    }
  }

  void release(size_t i) {
    auto& s = slots_[i];
    if (s.waiting)
      --waiting_;
    s = slot{};
    free_.push_back(i);
  }

  void wait_for_work() {
    auto now = clock_type::now();
    auto until = now + milliseconds{50};
    if (!input_done_ && !free_.empty() && stop_ == stop_reason::none
        && now >= hold_until_ && may_send())
      return; // more lines to start at once
    if (waiting_ > 0 && may_send())
      for (const auto& s : slots_)
        if (s.busy && s.waiting)
          until = std::min(until, std::max(s.retry_at, hold_until_));
    if (stop_ != stop_reason::none && !cancelled_)
      until = std::min(until, grace_end_);
    std::unique_lock guard{box_->mtx};
    box_->sleeping = true;
    box_->cv.wait_until(guard, until, [&] { return !box_->items.empty(); });
    box_->sleeping = false;
  }

  const run_options& opts_;
  engine& eng_;
  journal& out_;
  std::vector<bool>& done_;
  batch_stats& stats_;
  std::shared_ptr<inbox> box_;
  std::vector<inbox::item> taken_;
  std::vector<slot> slots_;
  std::vector<size_t> free_;
  size_t waiting_ = 0;
  /// Most lines in the engine at once now (AIMD on the engine's local
  /// refusals); never above --concurrency.
  double window_ = 1;
  /// Each route's first target ("" for the default route).
  std::map<std::string, std::string> primary_;
  progress_display display_;
  line_rules rules_;
  custom_id_set ids_;
  uint64_t nonce_ = 0;
  bool input_done_ = false;
  bool input_failed_ = false;
  clock_type::time_point hold_until_{};
  stop_reason stop_ = stop_reason::none;
  clock_type::time_point grace_end_{};
  int signals_at_stop_ = 0;
  bool cancelled_ = false;
};

bool priced(const engine_config& cfg) {
  return std::any_of(cfg.deployments.begin(), cfg.deployments.end(),
                     [](const auto& kv) {
                       return kv.second.cost_per_1k_input > 0
                              || kv.second.cost_per_1k_output > 0;
                     });
}

std::string shell_quote(const std::string& arg) {
  bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || std::string_view{"-_./=:,+@%"}.find(c) != std::string_view::npos;
  });
  if (plain)
    return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

} // namespace

std::string resume_command(const std::vector<std::string>& argv) {
  std::string out;
  bool has_resume = false;
  for (const auto& a : argv) {
    has_resume = has_resume || a == "--resume";
    if (!out.empty())
      out += ' ';
    out += shell_quote(a);
  }
  if (!has_resume)
    out += " --resume";
  return out;
}

int run_batch(const run_options& opts, engine_config cfg) {
  auto fail = [](const std::string& msg) {
    std::cerr << "switchyard-batch: " << msg << '\n';
    return exit_usage;
  };
  if (opts.resume && opts.input == "-")
    return fail("--resume needs --input to be a file: standard input cannot "
                "be read again to check that it is the same input");
  if (opts.resume && opts.output == "-")
    return fail("--resume needs --output to be a file: standard output cannot "
                "be read back");
  journal_state st;
  st.input = opts.input;
  if (opts.input != "-") {
    auto fp = fingerprint_file(opts.input);
    if (!fp)
      return fail(fp.error());
    st.fingerprint = *fp;
  }
  line_source in;
  if (auto ok = in.open(opts.input); !ok)
    return fail(ok.error());
  journal out;
  std::vector<bool> done;
  batch_stats stats;
  stats.total = st.fingerprint.records;
  if (opts.resume) {
    auto scan = out.resume(opts.output, st, done);
    if (!scan)
      return fail(scan.error());
    stats.resumed = scan->lines;
    stats.resumed_errors = scan->errors;
    {
      std::cerr << "switchyard-batch: resuming: " << scan->lines
                << " lines already in " << opts.output;
      if (scan->torn_bytes > 0)
        std::cerr << "; cut off a torn last line (" << scan->torn_bytes
                  << " bytes)";
      std::cerr << '\n';
    }
  } else if (auto ok = out.create(opts.output, st); !ok) {
    return fail(ok.error());
  }
  auto has_prices = priced(cfg);
  auto eng = engine::create(std::move(cfg));
  if (!eng)
    return fail("cannot start the engine: " + eng.error());
  install_signal_handlers();
  auto t0 = clock_type::now();
  batch_run run{opts, **eng, out, done, stats};
  auto why = run.run(in);
  out.finish();
  (*eng)->shutdown(std::chrono::seconds{1});
  if (!opts.quiet)
    print_summary(std::cerr, stats, clock_type::now() - t0, has_prices);
  if (run.input_failed())
    std::cerr << "switchyard-batch: reading " << opts.input << " failed\n";
  if (!out.write_error().empty()) {
    std::cerr << "switchyard-batch: " << out.write_error() << '\n';
    return exit_some_failed;
  }
  auto left = stats.total > stats.done() ? stats.total - stats.done() : 0;
  if (why == stop_reason::signal || why == stop_reason::max_failures) {
    std::cerr << "switchyard-batch: stopped with " << stats.done()
              << " lines written";
    if (stats.total > 0)
      std::cerr << ", " << left << " left";
    if (opts.output == "-" || opts.input == "-")
      std::cerr << "; this run cannot be resumed (standard input/output)\n";
    else
      std::cerr << ". Resume with:\n  " << resume_command(opts.argv) << '\n';
    return why == stop_reason::signal ? exit_interrupted : exit_some_failed;
  }
  if (stats.failures() + stats.resumed_errors > 0 || run.input_failed())
    return exit_some_failed;
  return exit_all_answered;
}

} // namespace switchyard::batch
