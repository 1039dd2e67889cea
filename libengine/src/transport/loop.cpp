// One libcurl multi loop on its own thread, driven by curl_multi_socket_action
// and epoll. Submitters talk to it through a mutex-guarded queue; the eventfd
// that wakes it is written only while it sleeps in epoll_wait (or is about
// to). Everything else is loop-thread state.

#include "loop.hpp"

#include "transfer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include <curl/curl.h>

namespace switchyard::transport_detail {

// Named, not anonymous: loop::impl (external linkage) holds these types.
namespace loop_parts {

/// Free transfers that keep their easy handle (and its buffers) for reuse.
constexpr size_t max_pooled_handles = 1024;

/// Receive buffer of a streaming transfer (CURLOPT_BUFFERSIZE; curl's
/// minimum).
constexpr long stream_buffer_bytes = 1024;

/// Upload buffer of every transfer (CURLOPT_UPLOAD_BUFFERSIZE; curl's
/// minimum, its default is 64 KiB).
constexpr long upload_buffer_bytes = 16L * 1024;

/// URLs the loop keeps parsed, at most (one per distinct upstream URL, e.g.
/// per deployment; more go to libcurl as strings).
constexpr size_t max_parsed_urls = 256;

struct url_deleter {
  void operator()(CURLU* u) const noexcept {
    curl_url_cleanup(u);
  }
};

/// A parsed URL (CURLOPT_CURLU).
using parsed_url = std::unique_ptr<CURLU, url_deleter>;

/// A job waiting for the loop to pick it up.
struct pending_job {
  uint64_t id = 0;
  http_job job;
  std::shared_ptr<transfer_sink> sink;
  time_point submitted;
};

/// An entry of the timer heap; stale when the transfer moved on.
struct timer_entry {
  time_point due;
  transfer* target;
  uint32_t generation;
};

/// The variables libcurl reads for an http or https proxy (it ignores an
/// upper-case HTTP_PROXY, which a CGI request can set).
bool proxy_in_environment() noexcept {
  for (const char* name :
       {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0')
      return true;
  }
  return false;
}

bool later(const timer_entry& x, const timer_entry& y) noexcept {
  return x.due > y.due;
}

long to_millis_ceil(timespan d) noexcept {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return us <= 0 ? 1 : static_cast<long>((us + 999) / 1000);
}

bool is_https(std::string_view url) noexcept {
  constexpr std::string_view scheme = "https://";
  if (url.size() < scheme.size())
    return false;
  for (size_t i = 0; i < scheme.size(); ++i)
    if ((url[i] | 0x20) != scheme[i] && url[i] != scheme[i])
      return false;
  return true;
}

/// Initialises libcurl once per process, whoever creates the first
/// transport and on whichever thread; returns its result to every caller.
CURLcode init_curl_once() {
  static std::once_flag flag;
  static CURLcode result = CURLE_OK;
  std::call_once(flag, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

/// "what failed (errno N: text)", from the errno a system call just set.
std::string system_failure(const char* what) {
  auto err = errno;
  return std::string{what} + " failed (errno " + std::to_string(err) + ": "
         + std::strerror(err) + ")";
}

} // namespace loop_parts

using namespace loop_parts;

struct loop::impl {
  explicit impl(transport_config cfg) : cfg_(std::move(cfg)) {
    if (cfg_.max_host_connections <= 0)
      cfg_.max_host_connections = 256;
    if (cfg_.max_connections <= 0)
      cfg_.max_connections = 4 * cfg_.max_host_connections;
    start_error_ = start_loop();
  }

  /// Starts the loop; returns why it could not (the transport then fails
  /// every job it is given).
  std::string start_loop() {
    if (auto rc = init_curl_once(); rc != CURLE_OK)
      return std::string{"curl_global_init failed: "} + curl_easy_strerror(rc);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0)
      return system_failure("eventfd");
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0)
      return system_failure("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0)
      return system_failure("epoll_ctl");
    multi_ = curl_multi_init();
    if (multi_ == nullptr)
      return "curl_multi_init failed";
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      cfg_.max_host_connections);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, cfg_.max_connections);
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    // One TLS session cache for all handles instead of libcurl's own per easy
    // handle (5 entries, 920 bytes allocated by every transfer, TLS or not).
    // Every handle runs on the loop thread: no lock callbacks needed.
    share_ = curl_share_init();
    if (share_ != nullptr
        && curl_share_setopt(share_, CURLSHOPT_SHARE,
                             CURL_LOCK_DATA_SSL_SESSION)
               != CURLSHE_OK) {
      curl_share_cleanup(share_);
      share_ = nullptr;
    }
    try {
      thread_ = std::thread{[this] { run(); }};
    } catch (const std::system_error& e) {
      return std::string{"starting the loop thread failed: "} + e.what();
    }
    return {};
  }

  ~impl() {
    if (thread_.joinable()) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        stopping_ = true;
      }
      wake();
      thread_.join();
    } else if (multi_ != nullptr) {
      curl_multi_cleanup(multi_); // the loop never ran to clean it up
    }
    if (share_ != nullptr)
      curl_share_cleanup(share_); // after shutdown() freed every handle
    if (epoll_fd_ >= 0)
      close(epoll_fd_);
    if (wake_fd_ >= 0)
      close(wake_fd_);
  }

  // -- called from any thread ------------------------------------------------

  /// Only called on a loop that started.
  void submit(uint64_t id, http_job job, std::shared_ptr<transfer_sink> sink) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    pending_job p{id, std::move(job), std::move(sink), clock_type::now()};
    bool need_wake = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      submissions_.push_back(std::move(p));
      need_wake = take_wake();
    }
    if (need_wake)
      wake();
  }

  void cancel(uint64_t id) {
    if (!start_error_.empty())
      return; // never given a job
    bool need_wake = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      cancellations_.push_back(id);
      need_wake = take_wake();
    }
    if (need_wake)
      wake();
  }

  size_t in_flight() const noexcept {
    return in_flight_.load(std::memory_order_relaxed);
  }

  const std::string& start_error() const noexcept {
    return start_error_;
  }

private:
  /// Whether a submitter must write the eventfd (under mtx_): only when the
  /// loop sleeps (or is about to) and nobody wrote it yet. An awake loop
  /// looks at the queues before it sleeps again.
  bool take_wake() noexcept {
    if (!sleeping_ || wake_pending_)
      return false;
    wake_pending_ = true;
    return true;
  }

  void wake() noexcept {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof(one));
  }

  // -- the loop thread -------------------------------------------------------

  void run() {
    // Named, so that top -H, perf and the benchmarks' per-thread accounting
    // tell the transport's CPU from the rest.
    pthread_setname_np(pthread_self(), "sy-transport");
    std::vector<epoll_event> events(1024);
    std::vector<pending_job> submissions;
    std::vector<uint64_t> cancellations;
    for (;;) {
      int timeout = 0;
      {
        // Sleep only with empty queues; from here on submitters wake us.
        std::lock_guard<std::mutex> guard{mtx_};
        if (submissions_.empty() && cancellations_.empty() && !stopping_) {
          sleeping_ = true;
          timeout = poll_timeout(clock_type::now());
        }
      }
      auto n = epoll_wait(epoll_fd_, events.data(),
                          static_cast<int>(events.size()), timeout);
      int running = 0;
      for (int i = 0; i < n; ++i) {
        auto fd = events[i].data.fd;
        auto what = events[i].events;
        if (fd == wake_fd_) {
          uint64_t count = 0;
          [[maybe_unused]] auto r = read(wake_fd_, &count, sizeof(count));
          continue;
        }
        if (auto& st = state_of(fd); !st.wanted) {
          // An idle keep-alive connection stirred (closed by the server):
          // nobody watches it, libcurl finds it dead when it next looks.
          unregister(fd, st);
          continue;
        }
        int flags = 0;
        if (what & EPOLLIN)
          flags |= CURL_CSELECT_IN;
        if (what & EPOLLOUT)
          flags |= CURL_CSELECT_OUT;
        if (what & (EPOLLERR | EPOLLHUP))
          flags |= CURL_CSELECT_ERR;
        now_ = clock_type::now();
        curl_multi_socket_action(multi_, fd, flags, &running);
      }
      now_ = clock_type::now();
      if (curl_due_ && *curl_due_ <= now_) {
        curl_due_.reset();
        curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      bool stop = false;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        std::swap(submissions, submissions_);
        std::swap(cancellations, cancellations_);
        sleeping_ = false;
        wake_pending_ = false;
        stop = stopping_;
      }
      if (stop) {
        for (auto& p : submissions)
          complete_unstarted(p, transport_error::cancelled,
                             "transport stopped");
        submissions.clear();
        break;
      }
      start_all(submissions, cancellations);
      release_burst(submissions);
      collect_done();
      fire_timers(clock_type::now());
    }
    shutdown();
  }

  /// Milliseconds until the nearest libcurl or transfer timer, rounded up so
  /// that no timer is seen early; -1 when nothing is due.
  int poll_timeout(time_point now) const noexcept {
    auto due = time_point::max();
    if (curl_due_)
      due = *curl_due_;
    if (!timers_.empty())
      due = std::min(due, timers_.front().due);
    if (due == time_point::max())
      return -1;
    if (due <= now)
      return 0;
    return static_cast<int>(std::min(to_millis_ceil(due - now), 3'600'000L));
  }

  void start_all(std::vector<pending_job>& submissions,
                 std::vector<uint64_t>& cancellations) {
    auto cancelled_early = [&](uint64_t id) {
      auto i = std::find(cancellations.begin(), cancellations.end(), id);
      if (i == cancellations.end())
        return false;
      cancellations.erase(i);
      return true;
    };
    for (auto& p : submissions) {
      if (!cancellations.empty() && cancelled_early(p.id))
        complete_unstarted(p, transport_error::cancelled,
                           "cancelled before start");
      else
        start(p);
    }
    submissions.clear();
    for (auto id : cancellations)
      if (auto i = active_.find(id); i != active_.end())
        finish(*i->second, transport_error::cancelled, "cancelled");
    cancellations.clear();
  }

  /// After a burst of submissions, gives the queue's memory back instead of
  /// keeping room for the burst (the queues swap, so both would).
  static void release_burst(std::vector<pending_job>& queue) {
    constexpr size_t kept_capacity = 256;
    if (queue.capacity() > kept_capacity)
      queue = std::vector<pending_job>{};
  }

  void complete_unstarted(pending_job& p, transport_error err,
                          const char* detail) {
    transfer_result result;
    result.error = err;
    result.detail = detail;
    result.elapsed = clock_type::now() - p.submitted;
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    p.sink->on_complete(std::move(result));
  }

  void start(pending_job& p) {
    auto* handle = acquire();
    if (handle == nullptr) {
      complete_unstarted(p, transport_error::other, "curl_easy_init failed");
      return;
    }
    auto& t = *handle;
    if (t.small_buffer && !p.job.stream) {
      // libcurl 7.88 keeps an easy handle's receive buffer across jobs but
      // reads up to the new (default, 16 KiB) size into it: a handle that
      // streamed with the 1 KiB buffer overflowed it on a plain transfer
      // (ASan: heap-buffer-overflow in recv, found by
      // integration.engine_crash_load). Such a handle gets a successor.
      curl_easy_cleanup(t.easy);
      t.easy = curl_easy_init();
      if (t.easy == nullptr) {
        free_.push_back(&t);
        complete_unstarted(p, transport_error::other, "curl_easy_init failed");
        return;
      }
      configure_handle(t);
    }
    t.small_buffer = p.job.stream;
    t.id = p.id;
    t.stream = p.job.stream;
    t.timeouts = p.job.timeouts;
    t.request_body = std::move(p.job.request.body);
    t.sink = std::move(p.sink);
    t.submitted = p.submitted;
    t.last_activity = p.submitted;
    active_.emplace(t.id, &t);
    auto ok = configure(t, p.job.request);
    // libcurl copied the URL and method, and the headers are in
    // t.request_headers: the job's copies can go now, not at its end.
    p.job.request = http_request{};
    if (!ok) {
      finish(t, transport_error::other, "cannot set up the transfer");
      return;
    }
    if (auto rc = curl_multi_add_handle(multi_, t.easy); rc != CURLM_OK) {
      finish(t, transport_error::other, curl_multi_strerror(rc));
      return;
    }
    t.added = true;
    schedule(t);
  }

  /// Sets the options every job of the loop shares, once per easy handle
  /// (they persist across transfers: no curl_easy_reset between jobs).
  void configure_handle(transfer& t) {
    auto* e = t.easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    if (share_ != nullptr)
      curl_easy_setopt(e, CURLOPT_SHARE, share_);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &impl::on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &impl::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &impl::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &impl::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Without a proxy in the environment, say so once: libcurl otherwise
    // looks up four to six variables in the environment for every transfer.
    if (!env_proxy_) {
      curl_easy_setopt(e, CURLOPT_PROXY, "");
      curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    // Over TLS (and for bodies over 64 KiB) libcurl copies the request into
    // an upload buffer that it frees only when the transfer ends, i.e. holds
    // for as long as the answer streams: its smallest size instead of the
    // 64 KiB default saves 48 KiB per open HTTPS call.
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, upload_buffer_bytes);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(cfg_.max_response_bytes));
    if (!cfg_.ca_file.empty())
      curl_easy_setopt(e, CURLOPT_CAINFO, cfg_.ca_file.c_str());
    // Debian's libcurl has /etc/ssl/certs built in as its CA path, and with
    // a path set it parses the CA store anew for every connection. The
    // bundle alone (the same certificates there) is parsed once and cached.
    curl_easy_setopt(e, CURLOPT_CAPATH,
                     cfg_.ca_path.empty() ? nullptr : cfg_.ca_path.c_str());
    if (cfg_.insecure_skip_verify) {
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }

  /// Gives the transfer its URL already parsed (CURLOPT_CURLU) when the
  /// loop has parsed it before: from a string, libcurl 7.88 parses the URL
  /// anew for every transfer and formats each of its parts with its printf
  /// (callgrind, bench-transport: 13,000 of the ~100,000 instructions of a
  /// request). A URL curl_url_set refuses without libcurl's scheme guessing,
  /// and any URL once the cache is full, goes as a string, as before.
  bool set_url(CURL* e, const std::string& url) {
    CURLU* parsed = nullptr;
    if (auto it = parsed_urls_.find(url); it != parsed_urls_.end()) {
      parsed = it->second.get();
    } else if (parsed_urls_.size() < max_parsed_urls) {
      parsed_url fresh{curl_url()};
      if (fresh
          && curl_url_set(fresh.get(), CURLUPART_URL, url.c_str(), 0)
                 == CURLUE_OK) {
        parsed = fresh.get();
        parsed_urls_.emplace(url, std::move(fresh));
      }
    }
    if (parsed != nullptr)
      return curl_easy_setopt(e, CURLOPT_CURLU, parsed) == CURLE_OK;
    curl_easy_setopt(e, CURLOPT_CURLU, nullptr);
    return curl_easy_setopt(e, CURLOPT_URL, url.c_str()) == CURLE_OK;
  }

  /// Sets the options that differ between jobs, each one every time (a
  /// pooled handle still holds the previous job's), for `req`, whose body is
  /// in `t.request_body`.
  bool configure(transfer& t, const http_request& req) {
    auto* e = t.easy;
    t.error_buffer[0] = '\0';
    t.request_headers.assign(req.headers);
    bool ok = set_url(e, req.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.request_headers.get());
    // h2c (prior knowledge) is broken on reused connections in 7.88.
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     is_https(req.url) ? long{CURL_HTTP_VERSION_2TLS}
                                       : long{CURL_HTTP_VERSION_1_1});
    // Stream events are small and come one by one: curl's smallest receive
    // buffer instead of its 16 KiB default saves 15 KiB per open stream
    // (bench-stream_many: peak RSS 258-280 -> 206 MiB at 10,000 streams, no
    // measurable CPU cost).
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE,
                     t.stream ? stream_buffer_bytes
                              : long{CURL_MAX_WRITE_SIZE});
    // 0 is libcurl's default (300 s).
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     t.timeouts.connect ? to_millis_ceil(*t.timeouts.connect)
                                        : 0L);
    // Back to a plain GET without body, then the job's method.
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t{-1});
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    const auto& method = req.method;
    const auto& body = t.request_body;
    auto set_body = [&] {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
    };
    if (method == "GET") {
      // set above
    } else if (method == "POST") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      set_body();
    } else if (method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
      if (!body.empty())
        set_body();
    }
    return ok;
  }

  /// Completes a running transfer: frees its handle (and with it, for an
  /// unfinished transfer, the connection) and tells the sink. `curl_done`:
  /// libcurl reported the transfer done (else it is cut short here).
  void finish(transfer& t, transport_error err, std::string detail,
              bool curl_done = false) {
    if (t.added) {
      curl_multi_remove_handle(multi_, t.easy);
      t.added = false;
    }
    active_.erase(t.id);
    transfer_result result;
    result.error = err;
    result.detail = std::move(detail);
    result.response = std::move(t.response);
    result.response.headers = t.fields.to_list();
    result.elapsed = clock_type::now() - t.submitted;
    auto sink = std::move(t.sink);
    release(t, curl_done);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    sink->on_complete(std::move(result));
  }

  /// Finishes every transfer libcurl reported done. The messages are taken
  /// out first: libcurl 7.88's curl_multi_remove_handle walks the message
  /// queue looking for the removed handle's, so removing each handle while
  /// the rest of a burst was still queued cost O(burst) per transfer
  /// (quadratic; 41 % of the load driver's CPU after a stall at 5,000
  /// req/s).
  void collect_done() {
    int left = 0;
    while (auto* msg = curl_multi_info_read(multi_, &left))
      if (msg->msg == CURLMSG_DONE)
        done_.emplace_back(msg->easy_handle, msg->data.result);
    for (auto [easy, rc] : done_) {
      transfer* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
      if (t == nullptr)
        continue;
      if (t->too_large) {
        finish(*t, transport_error::too_large,
               "response larger than " + std::to_string(cfg_.max_response_bytes)
                   + " bytes",
               true);
        continue;
      }
      auto err = transport_detail::map_curl_code(rc, easy);
      std::string detail;
      if (err != transport_error::none)
        detail = t->error_buffer[0] != '\0' ? t->error_buffer
                                            : curl_easy_strerror(rc);
      finish(*t, err, std::move(detail), true);
    }
    done_.clear();
  }

  // -- transfer timers -------------------------------------------------------

  /// The transfer's next first-byte, idle or total deadline.
  static time_point next_due(const transfer& t) noexcept {
    auto due = time_point::max();
    const auto& to = t.timeouts;
    if (!t.first_byte_seen && to.first_byte)
      due = std::min(due, t.submitted + *to.first_byte);
    if (t.first_byte_seen && to.idle)
      due = std::min(due, t.last_activity + *to.idle);
    if (!t.stream && to.total)
      due = std::min(due, t.submitted + *to.total);
    return due;
  }

  /// Makes sure the heap holds an entry no later than the next deadline.
  void schedule(transfer& t) {
    auto due = next_due(t);
    if (due >= t.timer_due)
      return;
    if (t.timer_due == time_point::max())
      ++timers_live_; // else the new entry replaces the live one
    t.timer_due = due;
    timers_.push_back(timer_entry{due, &t, t.generation});
    std::push_heap(timers_.begin(), timers_.end(), later);
    if (timers_.size() > 2 * timers_live_ + 4096)
      compact_timers();
  }

  bool is_live(const timer_entry& e) const noexcept {
    return e.target->generation == e.generation && e.target->timer_due == e.due;
  }

  void compact_timers() {
    std::erase_if(timers_,
                  [this](const timer_entry& e) { return !is_live(e); });
    std::make_heap(timers_.begin(), timers_.end(), later);
    timers_live_ = timers_.size();
  }

  void fire_timers(time_point now) {
    while (!timers_.empty() && timers_.front().due <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), later);
      auto e = timers_.back();
      timers_.pop_back();
      if (!is_live(e))
        continue;
      --timers_live_;
      auto& t = *e.target;
      t.timer_due = time_point::max();
      const auto& to = t.timeouts;
      if (!t.first_byte_seen && to.first_byte
          && t.submitted + *to.first_byte <= now)
        finish(t, transport_error::first_byte_timeout,
               "no response within "
                   + std::to_string(to_millis_ceil(*to.first_byte)) + " ms");
      else if (t.first_byte_seen && to.idle
               && t.last_activity + *to.idle <= now)
        finish(t, transport_error::idle_timeout,
               "nothing received for "
                   + std::to_string(to_millis_ceil(*to.idle)) + " ms");
      else if (!t.stream && to.total && t.submitted + *to.total <= now)
        finish(t, transport_error::total_timeout,
               "not done within " + std::to_string(to_millis_ceil(*to.total))
                   + " ms");
      else
        schedule(t);
    }
  }

  // -- transfer pool ---------------------------------------------------------

  /// Returns a transfer with an easy handle, or nullptr when libcurl cannot
  /// make one.
  transfer* acquire() {
    transfer* t = nullptr;
    if (!free_.empty()) {
      t = free_.back();
      free_.pop_back();
    } else {
      all_.push_back(std::make_unique<transfer>());
      t = all_.back().get();
      t->loop = this;
    }
    if (t->easy == nullptr) {
      t->easy = curl_easy_init();
      if (t->easy == nullptr) {
        free_.push_back(t);
        return nullptr;
      }
      t->small_buffer = false;
      configure_handle(*t);
    } else {
      --pooled_handles_;
    }
    return t;
  }

  /// Returns a transfer to the pool. Transfer objects live as long as the
  /// loop (stale timer entries point at them); surplus easy handles go, and
  /// so do the handles of transfers cut short (`curl_done` false): libcurl
  /// 7.88 leaves state in an easy handle removed mid-transfer that reusing
  /// it does not clear, and reuse corrupted the heap (segfaults in
  /// curl_multi_remove_handle / curl_multi_socket_action under
  /// integration.engine_crash_load, gone without reuse).
  void release(transfer& t, bool curl_done) {
    if (t.timer_due != time_point::max())
      --timers_live_;
    t.reset();
    if (!curl_done || pooled_handles_ >= max_pooled_handles) {
      curl_easy_cleanup(t.easy);
      t.easy = nullptr;
      t.fields.release();
    } else {
      ++pooled_handles_;
    }
    free_.push_back(&t);
  }

  void shutdown() {
    // Sinks may submit from on_complete; those jobs are cancelled as well.
    for (;;) {
      std::vector<transfer*> running;
      running.reserve(active_.size());
      for (auto& [id, t] : active_)
        running.push_back(t);
      for (auto* t : running)
        finish(*t, transport_error::cancelled, "transport stopped");
      std::vector<pending_job> late;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        std::swap(late, submissions_);
        cancellations_.clear();
      }
      if (late.empty() && active_.empty())
        break;
      for (auto& p : late)
        complete_unstarted(p, transport_error::cancelled, "transport stopped");
    }
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
    all_.clear();
    parsed_urls_.clear(); // no handle reads them any more
  }

  // -- libcurl callbacks (loop thread) ---------------------------------------

  /// What the loop's epoll set holds for one descriptor.
  struct fd_state {
    /// A connection socket opened through `on_open_socket` and not yet
    /// closed through `on_close_socket`.
    bool ours = false;
    /// libcurl watches it (between its CURL_POLL_IN/OUT and CURL_POLL_REMOVE).
    bool wanted = false;
    /// The events registered in epoll; 0: not in the set.
    uint32_t registered = 0;
  };

  fd_state& state_of(curl_socket_t s) {
    auto i = static_cast<size_t>(s);
    if (i >= fds_.size())
      fds_.resize(std::max(i + 1, fds_.size() * 2));
    return fds_[i];
  }

  /// libcurl's wishes for a socket, carried into the epoll set. A keep-alive
  /// connection between transfers stays registered while nobody watches it
  /// (the next transfer on it wants the same events: no epoll_ctl at all,
  /// where removing and adding it again cost two per request); an event on
  /// it meanwhile (the server closed it) removes it then. Only sockets the
  /// loop opened itself get this: their close goes through
  /// `on_close_socket`, so a reused descriptor number is never mistaken for
  /// a registered one.
  static int on_socket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto& self = *static_cast<impl*>(userp);
    auto& st = self.state_of(s);
    if (what == CURL_POLL_REMOVE) {
      st.wanted = false;
      if (!st.ours)
        self.unregister(s, st);
      return 0;
    }
    st.wanted = true;
    uint32_t events = 0;
    if (what & CURL_POLL_IN)
      events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
      events |= EPOLLOUT;
    if (st.ours && events == st.registered)
      return 0;
    epoll_event ev{};
    ev.data.fd = s;
    ev.events = events;
    auto op = st.registered == 0 || !st.ours ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(self.epoll_fd_, op, s, &ev) != 0) {
      op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
      epoll_ctl(self.epoll_fd_, op, s, &ev);
    }
    st.registered = events;
    return 0;
  }

  void unregister(curl_socket_t s, fd_state& st) {
    if (st.registered != 0)
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s, nullptr);
    st.registered = 0;
  }

  /// Opens every connection socket of the loop's transfers (close-on-exec:
  /// a program that starts processes, like switchyard-load starting mocks,
  /// does not leak them).
  static curl_socket_t on_open_socket(void* clientp, curlsocktype,
                                      curl_sockaddr* addr) {
    auto& self = *static_cast<impl*>(clientp);
    auto s
        = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (s < 0)
      return CURL_SOCKET_BAD;
    self.state_of(s) = fd_state{true, false, 0};
    return s;
  }

  /// Closes a socket opened by `on_open_socket`; the kernel drops it from
  /// the epoll set.
  static int on_close_socket(void* clientp, curl_socket_t s) {
    auto& self = *static_cast<impl*>(clientp);
    self.state_of(s) = fd_state{};
    return close(s);
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    auto& self = *static_cast<impl*>(userp);
    if (timeout_ms < 0)
      self.curl_due_.reset();
    else
      self.curl_due_
          = clock_type::now() + std::chrono::milliseconds{timeout_ms};
    return 0;
  }

  /// Marks activity; the first byte switches the transfer to its idle timer.
  /// The time is the loop's, read before each curl_multi_socket_action (one
  /// clock read per socket event, not one per header line and chunk).
  void touch(transfer& t) {
    t.last_activity = now_;
    if (!t.first_byte_seen) {
      t.first_byte_seen = true;
      schedule(t);
    }
  }

  static size_t on_header(char* data, size_t size, size_t count, void* ud) {
    auto& t = *static_cast<transfer*>(ud);
    auto& self = *static_cast<impl*>(t.loop);
    auto len = size * count;
    self.touch(t);
    auto kind = transport_detail::apply_header_line(t, {data, len});
    if (kind == transport_detail::header_line_kind::end_of_head) {
      if (t.stream) {
        // Held for as long as the stream runs; a plain call's buffer stays
        // as it is for the handle's next job.
        t.fields.shrink();
        t.sink->on_head(t.response.status, t.fields.to_list());
      }
    }
    return len;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* ud) {
    auto& t = *static_cast<transfer*>(ud);
    auto& self = *static_cast<impl*>(t.loop);
    auto len = size * count;
    self.touch(t);
    t.head_done = true;
    t.body_bytes += len;
    if (t.body_bytes > self.cfg_.max_response_bytes) {
      t.too_large = true;
      return 0; // aborts with CURLE_WRITE_ERROR
    }
    if (t.chunked_delivery())
      t.sink->on_chunk({data, len});
    else
      t.response.body.append(data, len);
    return len;
  }

  // -- state -----------------------------------------------------------------

  transport_config cfg_;
  /// Why the loop could not start; empty when it runs. Set once, before
  /// the transport is shared.
  std::string start_error_;

  // Shared with submitters, guarded by mtx_.
  std::mutex mtx_;
  std::vector<pending_job> submissions_;
  std::vector<uint64_t> cancellations_;
  /// The loop is in (or about to enter) epoll_wait with empty queues.
  bool sleeping_ = false;
  /// Someone wrote the eventfd since the loop last took the queues.
  bool wake_pending_ = false;
  bool stopping_ = false;

  std::atomic<size_t> in_flight_{0};
  int wake_fd_ = -1;

  // Loop thread only.
  /// Whether the environment names a proxy libcurl would use for http or
  /// https (read when the loop is made; libcurl reads it per transfer).
  bool env_proxy_ = proxy_in_environment();
  int epoll_fd_ = -1;
  CURLM* multi_ = nullptr;
  /// Shared TLS session cache of all easy handles; null if unavailable.
  CURLSH* share_ = nullptr;
  std::optional<time_point> curl_due_;
  /// Per descriptor number: see `on_socket`.
  std::vector<fd_state> fds_;
  /// The loop's idea of now while libcurl runs callbacks.
  time_point now_ = clock_type::now();
  std::vector<timer_entry> timers_;
  size_t timers_live_ = 0;
  std::unordered_map<uint64_t, transfer*> active_;
  /// URLs parsed once (`set_url`), read by libcurl during every transfer
  /// that uses them, so freed only after the handles: by shutdown(), or,
  /// declared before `all_`, after it.
  std::unordered_map<std::string, parsed_url> parsed_urls_;
  std::vector<std::unique_ptr<transfer>> all_;
  std::vector<transfer*> free_;
  size_t pooled_handles_ = 0;
  /// collect_done's list of the transfers libcurl reported done, with their
  /// results (kept for its capacity).
  std::vector<std::pair<CURL*, CURLcode>> done_;

  std::thread thread_;
};

loop::loop(const transport_config& cfg) : impl_(std::make_unique<impl>(cfg)) {
  // nop
}

loop::~loop() = default;

void loop::submit(uint64_t id, http_job job,
                  std::shared_ptr<transfer_sink> sink) {
  impl_->submit(id, std::move(job), std::move(sink));
}

void loop::cancel(uint64_t id) {
  impl_->cancel(id);
}

size_t loop::in_flight() const noexcept {
  return impl_->in_flight();
}

const std::string& loop::start_error() const noexcept {
  return impl_->start_error();
}

} // namespace switchyard::transport_detail
