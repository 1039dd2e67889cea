// The only Beast file of the gateway: accepting, parsing requests, writing
// answers (as raw HTTP/1.1 bytes: heads, bodies and SSE chunks), noticing
// clients that go away, and the limits against slow or greedy clients.
//
// An answer (a complete one, or a stream's head, chunks and end) is written
// to the socket by the thread that has it (a CAF worker or the transport's
// loop) while its session only waits for it: no hand-off to the session's
// I/O thread, whose next wake-up is the client's next request. What the
// socket does not take at once, and everything after it, goes through the
// I/O thread, as does the last answer of a connection.
#include "server.hpp"

#include "expect_continue.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace switchyard::gateway {

// A named namespace, not an anonymous one: http_server::impl (external
// linkage) holds and captures these types.
namespace server_detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// What every session shares with the server.
struct shared_state {
  request_handler& handler;
  gateway_limits limits;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> exchanges{0};
  std::atomic<bool> closing{false};
};

std::string reason_of(int status) {
  switch (status) {
    case 499:
      return "Client Closed Request";
    case 529:
      return "Site Overloaded";
    default: {
      auto r = http::obsolete_reason(static_cast<http::status>(status));
      return std::string{r.data(), r.size()};
    }
  }
}

/// The head of an answer: status line, our headers, `extra` lines.
std::string head_text(int status, std::string_view content_type,
                      const header_list& headers, bool keep_alive,
                      std::string_view extra) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_of(status);
  out += "\r\ncontent-type: ";
  out += content_type;
  out += "\r\n";
  for (const auto& [k, v] : headers) {
    out += k;
    out += ": ";
    for (char c : v) // a header value never carries a line break
      out += (c == '\r' || c == '\n') ? ' ' : c;
    out += "\r\n";
  }
  if (!keep_alive)
    out += "connection: close\r\n";
  out += extra;
  out += "\r\n";
  return out;
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty())
    return;
  char buf[20];
  int n = std::snprintf(buf, sizeof(buf), "%zx\r\n", data.size());
  out.append(buf, static_cast<size_t>(n));
  out += data;
  out += "\r\n";
}

class session;

/// The answering side of one request: posts everything to its session.
class exchange_impl final : public exchange {
public:
  exchange_impl(std::shared_ptr<session> s, size_t buffer_limit)
      : session_(std::move(s)), limit_(buffer_limit) {
    // nop
  }

  void respond(http_response res) override;
  void stream_head(int status, header_list headers) override;
  bool stream_write(std::string bytes) override;
  void stream_close(std::string last) override;
  void on_disconnect(std::function<void()> f) override;

  /// Bytes handed over and not yet written to the socket.
  std::atomic<size_t> queued{0};

  /// Runs on the session's strand when the client went away.
  void disconnected() {
    std::function<void()> f;
    {
      std::lock_guard guard{mtx_};
      gone_ = true;
      f = std::move(on_gone_);
    }
    if (f)
      f();
  }

  /// Drops the session so that it can go (the exchange is answered).
  void release() {
    std::lock_guard guard{mtx_};
    finished_ = true;
    on_gone_ = nullptr;
  }

private:
  /// Until the answer's last part is handed over (respond, stream_close).
  std::shared_ptr<session> session_;
  size_t limit_;
  std::mutex mtx_;
  std::function<void()> on_gone_;
  bool gone_ = false;
  bool finished_ = false;
};

/// One client connection.
class session : public std::enable_shared_from_this<session> {
public:
  /// Who writes the running exchange's answer.
  enum class direct_state : uint8_t {
    /// This session's thread (send_complete, send_head, ...).
    none,
    /// Any thread (write_direct), as long as it is here.
    waiting,
    /// write_direct wrote all of it: this thread goes on when the socket is
    /// readable.
    answered,
  };

  session(tcp::socket socket, shared_state& shared)
      : stream_(std::move(socket)), shared_(shared) {
    shared_.connections.fetch_add(1, std::memory_order_relaxed);
  }

  ~session() {
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void start() {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay{true}, ec);
    // The disconnect check peeks without ever blocking an I/O thread.
    stream_.socket().non_blocking(true, ec);
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this()] { self->read_head(); });
  }

  /// Refuses the connection with `res` and closes it.
  void refuse(http_response res) {
    keep_alive_ = false;
    send_complete(std::move(res));
  }

  auto executor() {
    return stream_.get_executor();
  }

  /// Writes the bytes `build()` makes, the next part of the running
  /// exchange `ex`'s answer (its end when `last`), to the socket on the
  /// calling thread, while the session only waits for them. Returns false,
  /// without building them, when they must go through this session's thread
  /// instead, and so must every later part. What the socket does not take at
  /// once goes there too (counted in `ex.queued`), and from then on every
  /// later part.
  template <class Build>
  bool write_direct(exchange_impl& ex, bool last, Build build) {
    std::lock_guard guard{direct_mtx_};
    if (direct_ != direct_state::waiting)
      return false;
    if (shared_.closing.load()) {
      // The rest of the answer goes out with `connection: close`.
      direct_ = direct_state::none;
      return false;
    }
    std::string out = build();
    auto n = ::send(stream_.socket().native_handle(), out.data(), out.size(),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(out.size())) {
      // After an error all of it: the write there reports the error.
      direct_ = direct_state::none;
      out.erase(0, n > 0 ? static_cast<size_t>(n) : 0);
      auto size = out.size();
      ex.queued.fetch_add(size, std::memory_order_acq_rel);
      net::post(executor(), [self = shared_from_this(), rest = std::move(out),
                             size, last]() mutable {
        if (last)
          self->ending_ = true;
        self->enqueue(std::move(rest), size);
      });
      return true;
    }
    if (last) {
      direct_ = direct_state::answered;
      answered_at_ = std::chrono::steady_clock::now();
      ex.release();
      shared_.exchanges.fetch_sub(1, std::memory_order_relaxed);
    }
    return true;
  }

  // -- called on the strand by the exchange ----------------------------------

  void send_complete(http_response res) {
    take_back();
    if (closed_)
      return;
    auto keep = keep_alive_ && !shared_.closing.load();
    std::string out = head_text(
        res.status, res.content_type, res.headers, keep,
        "content-length: " + std::to_string(res.body.size()) + "\r\n");
    if (!head_only_)
      out += res.body;
    keep_alive_ = keep;
    ending_ = true;
    enqueue(std::move(out));
  }

  void send_head(int status, header_list headers) {
    take_back();
    if (closed_)
      return;
    keep_alive_ = keep_alive_ && !shared_.closing.load();
    headers.emplace_back("cache-control", "no-cache");
    enqueue(head_text(status, "text/event-stream", headers, keep_alive_,
                      "transfer-encoding: chunked\r\n"));
  }

  void send_chunk(std::string bytes) {
    std::string out;
    out.reserve(bytes.size() + 12);
    append_chunk(out, bytes);
    enqueue(std::move(out), bytes.size());
  }

  void send_last(std::string last) {
    std::string out;
    append_chunk(out, last);
    out += "0\r\n\r\n";
    ending_ = true;
    enqueue(std::move(out), last.size());
  }

private:
  // -- reading
  // ------------------------------------------------------------------

  void read_head() {
    if (shared_.closing.load() && buffer_.size() == 0)
      return close();
    read_request();
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(shared_.limits.max_header_bytes));
    parser_->body_limit(shared_.limits.max_body_bytes);
    stream_.expires_after(shared_.limits.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          self->on_head(ec);
        });
  }

  void on_head(beast::error_code ec) {
    if (ec)
      return read_failed(ec);
    stream_.expires_after(shared_.limits.read_timeout);
    // A body over the limit was refused above (Beast checks content-length
    // with the head), without leave to send it.
    continue_if_expected(stream_, *parser_,
                         [self = shared_from_this()](beast::error_code ec) {
                           if (ec)
                             return self->read_failed(ec);
                           self->read_body();
                         });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec)
                         return self->read_failed(ec);
                       self->on_request();
                     });
  }

  void read_failed(beast::error_code ec) {
    std::string target;
    if (parser_ && parser_->is_header_done()) {
      auto t = parser_->get().target();
      target.assign(t.data(), t.size());
    }
    keep_alive_ = false;
    if (ec == http::error::header_limit)
      return send_refusal(431, target, "request headers too large");
    if (ec == http::error::body_limit)
      return send_refusal(413, target,
                          "request body too large (limit "
                              + std::to_string(shared_.limits.max_body_bytes)
                              + " bytes)");
    if (ec == http::error::end_of_stream || ec == net::error::eof
        || ec == beast::error::timeout || ec == net::error::operation_aborted
        || ec == net::error::connection_reset)
      return close();
    // Anything else is a request Beast could not parse.
    send_refusal(400, target, "malformed HTTP request");
  }

  void send_refusal(int status, const std::string& target, std::string msg) {
    send_complete(shared_.handler.refusal(status, target, std::move(msg)));
  }

  struct view final : request_view {
    const http::request<http::string_body>& req;
    explicit view(const http::request<http::string_body>& r) : req(r) {
      // nop
    }
    std::string_view method() const override {
      auto m = req.method_string();
      return {m.data(), m.size()};
    }
    std::string_view target() const override {
      auto t = req.target();
      return {t.data(), t.size()};
    }
    std::string_view body() const override {
      return req.body();
    }
    std::optional<std::string_view>
    header(std::string_view name) const override {
      auto it = req.find(beast::string_view{name.data(), name.size()});
      if (it == req.end())
        return std::nullopt;
      auto v = it->value();
      return std::string_view{v.data(), v.size()};
    }
  };

  void on_request() {
    stream_.expires_never();
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    head_only_ = req.method() == http::verb::head;
    ending_ = false;
    ++generation_;
    current_ = std::make_shared<exchange_impl>(
        shared_from_this(), shared_.limits.stream_buffer_bytes);
    shared_.exchanges.fetch_add(1, std::memory_order_relaxed);
    {
      // Another thread may write the answer unless this one has more to do
      // after it: close the connection, or go on with requests already read.
      std::lock_guard guard{direct_mtx_};
      direct_ = keep_alive_ && !head_only_ && buffer_.size() == 0
                    ? direct_state::waiting
                    : direct_state::none;
    }
    watch_client();
    watch_idle();
    shared_.handler.handle(view{req}, current_);
  }

  /// Takes the exchange back from other threads: the rest of its answer
  /// goes through this one.
  void take_back() {
    std::lock_guard guard{direct_mtx_};
    direct_ = direct_state::none;
  }

  /// The answer went out from another thread and the exchange is counted
  /// out; the socket is readable: the next request (read even when
  /// draining: it was sent before the client could know) or the end.
  void after_direct() {
    current_.reset();
    ++generation_;
    read_request();
  }

  // Closes a connection left idle after an answer written by another thread
  // (read_head's timeout covers the others). Checked while the exchange
  // runs, at most every idle_timeout.
  void watch_idle() {
    if (idle_watched_)
      return;
    idle_watched_ = true;
    auto wait = shared_.limits.idle_timeout;
    {
      std::lock_guard guard{direct_mtx_};
      if (direct_ == direct_state::answered)
        wait -= std::min(wait, std::chrono::steady_clock::now() - answered_at_);
    }
    idle_timer_.expires_after(wait);
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->idle_watched_ = false;
      if (ec || self->closed_ || !self->current_)
        return;
      {
        std::lock_guard guard{self->direct_mtx_};
        if (self->direct_ == direct_state::answered
            && std::chrono::steady_clock::now() - self->answered_at_
                   >= self->shared_.limits.idle_timeout) {
          self->direct_ = direct_state::none;
          self->current_.reset();
          self->close();
          return;
        }
      }
      self->watch_idle();
    });
  }

  // Notices a client that closes its side while its answer is pending.
  void watch_client() {
    stream_.socket().async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this(), gen = generation_](beast::error_code ec) {
          if (gen != self->generation_ || !self->current_ || self->closed_)
            return;
          // Readable: the next request or the client's end, which this
          // thread handles. Decided under the lock, so that an answering
          // thread has either written all it had (answered) or writes
          // nothing more.
          char byte;
          beast::error_code rec;
          size_t n = 0;
          bool answered = false;
          {
            std::lock_guard guard{self->direct_mtx_};
            answered = self->direct_ == direct_state::answered;
            if (!answered && !ec)
              n = self->stream_.socket().receive(
                  net::buffer(&byte, 1), tcp::socket::message_peek, rec);
            if (rec != net::error::would_block)
              self->direct_ = direct_state::none;
          }
          if (answered)
            return self->after_direct();
          if (!ec && !rec && n > 0)
            return; // a pipelined request: it waits for its turn
          if (rec == net::error::would_block)
            return self->watch_client();
          self->client_gone();
        });
  }

  void client_gone() {
    auto ex = std::move(current_);
    close();
    if (ex) {
      ex->disconnected();
      ex->release();
      shared_.exchanges.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // -- writing
  // ------------------------------------------------------------------

  void enqueue(std::string bytes, size_t payload = 0) {
    if (closed_)
      return;
    pending_payload_ += payload;
    if (writing_) {
      next_ += bytes;
      return;
    }
    out_ = std::move(bytes);
    write_out();
  }

  void write_out() {
    writing_ = true;
    stream_.expires_after(shared_.limits.write_timeout);
    size_t payload = std::exchange(pending_payload_, 0);
    net::async_write(
        stream_, net::buffer(out_),
        [self = shared_from_this(), payload](beast::error_code ec, size_t) {
          self->on_written(ec, payload);
        });
  }

  void on_written(beast::error_code ec, size_t payload) {
    writing_ = false;
    if (current_)
      current_->queued.fetch_sub(payload, std::memory_order_acq_rel);
    if (ec)
      return client_gone();
    if (!next_.empty()) {
      out_ = std::move(next_);
      next_.clear();
      return write_out();
    }
    out_.clear();
    if (!ending_)
      return;
    stream_.expires_never();
    if (auto ex = std::move(current_)) {
      ex->release();
      shared_.exchanges.fetch_sub(1, std::memory_order_relaxed);
    }
    ++generation_;
    if (!keep_alive_)
      return close();
    read_head();
  }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    idle_timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  shared_state& shared_;
  /// Guards direct_ and answered_at_, and the socket against being closed
  /// while another thread writes to it.
  std::mutex direct_mtx_;
  direct_state direct_ = direct_state::none;
  std::chrono::steady_clock::time_point answered_at_;
  net::steady_timer idle_timer_{stream_.get_executor()};
  bool idle_watched_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<exchange_impl> current_;
  uint64_t generation_ = 0;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool ending_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::string out_;
  std::string next_;
  size_t pending_payload_ = 0;
};

// -- exchange_impl ------------------------------------------------------------

void exchange_impl::respond(http_response res) {
  // The last part: this exchange needs its session no more, and holding it
  // would keep the two alive (the session holds its running exchange) when
  // the session goes without taking the exchange back.
  auto s = std::move(session_);
  if (s->write_direct(*this, true, [&] {
        return head_text(res.status, res.content_type, res.headers, true,
                         "content-length: " + std::to_string(res.body.size())
                             + "\r\n")
               + res.body;
      }))
    return;
  net::post(s->executor(), [s, res = std::move(res)]() mutable {
    s->send_complete(std::move(res));
  });
}

void exchange_impl::stream_head(int status, header_list headers) {
  if (session_->write_direct(*this, false, [&] {
        headers.emplace_back("cache-control", "no-cache");
        return head_text(status, "text/event-stream", headers, true,
                         "transfer-encoding: chunked\r\n");
      }))
    return;
  net::post(session_->executor(),
            [s = session_, status, h = std::move(headers)]() mutable {
              s->send_head(status, std::move(h));
            });
}

bool exchange_impl::stream_write(std::string bytes) {
  auto n = bytes.size();
  if (queued.load(std::memory_order_acquire) + n > limit_)
    return false;
  if (session_->write_direct(*this, false, [&] {
        std::string out;
        out.reserve(n + 12);
        append_chunk(out, bytes);
        return out;
      }))
    return true;
  queued.fetch_add(n, std::memory_order_acq_rel);
  net::post(session_->executor(),
            [s = session_, b = std::move(bytes)]() mutable {
              s->send_chunk(std::move(b));
            });
  return true;
}

void exchange_impl::stream_close(std::string last) {
  auto s = std::move(session_); // the last part, as in respond
  if (s->write_direct(*this, true, [&] {
        std::string out;
        append_chunk(out, last);
        out += "0\r\n\r\n";
        return out;
      }))
    return;
  queued.fetch_add(last.size(), std::memory_order_acq_rel);
  net::post(s->executor(),
            [s, b = std::move(last)]() mutable { s->send_last(std::move(b)); });
}

void exchange_impl::on_disconnect(std::function<void()> f) {
  {
    std::lock_guard guard{mtx_};
    if (finished_)
      return;
    if (!gone_) {
      on_gone_ = std::move(f);
      return;
    }
  }
  f();
}

} // namespace server_detail

using namespace server_detail;

struct http_server::impl {
  impl(server_options opts, request_handler& handler)
      : shared{handler, opts.limits}, ioc(1), acceptor(net::make_strand(ioc)),
        signals(ioc, SIGINT, SIGTERM) {
    // One event loop per I/O thread, each connection on one of them for its
    // whole life (its handlers never run concurrently: no strand needed).
    // One loop run by several threads spent a sixth of the gateway's CPU in
    // waking its threads and switching between them.
    for (int i = 1; i < std::max(1, opts.threads); ++i)
      workers.push_back(std::make_unique<net::io_context>(1));
    tcp::endpoint ep{net::ip::make_address(opts.host), opts.port};
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
    do_accept();
  }

  /// The loop of the next connection: in turn over every I/O thread's loop.
  net::io_context& next_loop() {
    auto n = next_worker++ % (workers.size() + 1);
    return n == 0 ? ioc : *workers[n - 1];
  }

  void do_accept() {
    acceptor.async_accept(next_loop(), [this](beast::error_code ec,
                                              tcp::socket sock) {
      if (ec == net::error::operation_aborted || !acceptor.is_open())
        return;
      if (!ec) {
        auto s = std::make_shared<session>(std::move(sock), shared);
        if (shared.connections.load() > shared.limits.max_connections)
          net::dispatch(s->executor(), [s, this] {
            s->refuse(shared.handler.refusal(503, "", "too many connections"));
          });
        else
          s->start();
      }
      do_accept();
    });
  }

  // Destroyed in the reverse order: the loops (and the sessions still
  // waiting in them) before the state the sessions use, the first loop
  // before the others (its pending accept holds a socket of the next
  // connection's loop).
  shared_state shared;
  /// The loops of the I/O threads but the first.
  std::vector<std::unique_ptr<net::io_context>> workers;
  /// Only touched on the acceptor's strand.
  size_t next_worker = 0;
  /// The first I/O thread's loop; also the listener's and the signals'.
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::signal_set signals;
  uint16_t port = 0;
  std::function<void()> on_signal;
  bool signalled = false;

  void stop_loops() {
    ioc.stop();
    for (auto& w : workers)
      w->stop();
  }

  void wait_signal() {
    signals.async_wait([this](beast::error_code ec, int) {
      if (ec)
        return;
      if (signalled) {
        stop_loops();
        return;
      }
      signalled = true;
      if (on_signal)
        on_signal();
      wait_signal();
    });
  }
};

http_server::http_server(server_options opts, request_handler& handler)
    : impl_(std::make_unique<impl>(std::move(opts), handler)) {
  // nop
}

http_server::~http_server() = default;

uint16_t http_server::port() const noexcept {
  return impl_->port;
}

void http_server::run(std::function<void()> on_signal) {
  impl_->on_signal = std::move(on_signal);
  impl_->wait_signal();
  std::vector<std::thread> extra;
  for (auto& w : impl_->workers)
    extra.emplace_back([&loop = *w] {
      // The first I/O thread is the main one, which keeps the program's name.
      pthread_setname_np(pthread_self(), "sy-gateway-io");
      // Runs until stopped, connection or not.
      auto guard = net::make_work_guard(loop);
      loop.run();
    });
  impl_->ioc.run();
  for (auto& t : extra)
    t.join();
}

void http_server::stop_accepting() {
  impl_->shared.closing.store(true);
  net::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
}

size_t http_server::open_exchanges() const noexcept {
  return impl_->shared.exchanges.load();
}

void http_server::stop() {
  impl_->stop_loops();
}

} // namespace switchyard::gateway
