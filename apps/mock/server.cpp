#include "server.hpp"

#include "expect_continue.hpp"

#include <array>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace switchyard::mock {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using plan_action = response_plan::action;
using plan_ending = response_plan::ending;

std::optional<std::string_view>
find_field(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(beast::string_view{name.data(), name.size()});
  if (it == req.end())
    return std::nullopt;
  auto v = it->value();
  return std::string_view{v.data(), v.size()};
}

/// One client connection: read a request, ask the engine, carry out its plan.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, mock_engine& engine,
          std::function<void()> on_scenario_change)
      : socket_(std::move(socket)), timer_(socket_.get_executor()),
        engine_(engine), on_scenario_change_(std::move(on_scenario_change)) {
    engine_.connection_opened();
  }

  ~session() {
    // A session dropped without `close` (an aborted timer) still counts.
    if (!closed_)
      engine_.connection_closed();
  }

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void start() {
    beast::error_code ec;
    socket_.set_option(tcp::no_delay{true}, ec);
    do_read();
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(std::uint64_t{64} << 20);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec)
            return self->close();
          continue_if_expected(self->socket_, *self->parser_,
                               [self](beast::error_code ec) {
                                 if (ec)
                                   return self->close();
                                 self->read_body();
                               });
        });
  }

  void read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec)
      return close();
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    auto target = req.target();
    auto method = req.method_string();
    request_view view{{method.data(), method.size()},
                      {target.data(), target.size()},
                      req.body(),
                      find_field(req, "x-mock-fault"),
                      find_field(req, "x-mock-words"),
                      find_field(req, "x-mock-chunk-delay-ms")};
    plan_ = engine_.handle(view);
    if (plan_.scenario_changed)
      on_scenario_change_();
    after(plan_.delay_ms, [](session& s) { s.act(); });
  }

  template <class F>
  void after(int64_t delay_ms, F f) {
    if (delay_ms <= 0)
      return f(*this);
    timer_.expires_after(std::chrono::milliseconds{delay_ms});
    timer_.async_wait([self = shared_from_this(), f](beast::error_code ec) {
      if (!ec)
        f(*self);
    });
  }

  void act() {
    switch (plan_.what) {
      case plan_action::close:
        return close();
      case plan_action::hang:
        return wait_for_client();
      case plan_action::respond:
        break;
    }
    if (plan_.stream || plan_.end != plan_ending::complete)
      return write_head();
    res_ = {};
    res_.result(static_cast<unsigned>(plan_.head.status));
    res_.version(11);
    if (res_.result() == http::status::unknown)
      res_.reason(plan_.head.status == 529 ? "Site Overloaded" : "Unknown");
    res_.set(http::field::content_type, plan_.head.content_type);
    for (const auto& [k, v] : plan_.head.headers)
      res_.set(k, v);
    res_.body() = std::move(plan_.head.body);
    res_.keep_alive(keep_alive_);
    res_.prepare_payload();
    http::async_write(
        socket_, res_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec || !self->keep_alive_)
            return self->close();
          self->do_read();
        });
  }

  // Streams and truncated bodies: the header first, then raw bytes.
  void write_head() {
    head_.emplace();
    head_->result(static_cast<unsigned>(plan_.head.status));
    head_->version(11);
    if (head_->result() == http::status::unknown)
      head_->reason("Unknown");
    head_->set(http::field::content_type, plan_.head.content_type);
    for (const auto& [k, v] : plan_.head.headers)
      head_->set(k, v);
    head_->keep_alive(keep_alive_ && plan_.end == plan_ending::complete);
    if (plan_.stream)
      head_->chunked(true);
    else
      head_->content_length(plan_.head.body.size());
    serializer_.emplace(*head_);
    http::async_write_header(
        socket_, *serializer_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec)
            return self->close();
          if (self->plan_.stream) {
            self->next_frame_ = 0;
            return self->write_frames();
          }
          self->write_partial_body();
        });
  }

  void write_partial_body() {
    net::async_write(socket_,
                     net::buffer(plan_.head.body.data(), plan_.body_cut),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec)
                         return self->close();
                       self->finish();
                     });
  }

  void write_frames() {
    if (next_frame_ == plan_.frames.size())
      return finish();
    after(plan_.frames[next_frame_].delay_ms, [](session& s) {
      const auto& bytes = s.plan_.frames[s.next_frame_].bytes;
      net::async_write(
          s.socket_, http::make_chunk(net::buffer(bytes)),
          [self = s.shared_from_this()](beast::error_code ec, size_t) {
            if (ec)
              return self->close();
            ++self->next_frame_;
            self->write_frames();
          });
    });
  }

  void finish() {
    switch (plan_.end) {
      case plan_ending::drop:
        return close();
      case plan_ending::stall:
        return wait_for_client();
      case plan_ending::complete:
      case plan_ending::close:
        break;
    }
    bool again = keep_alive_ && plan_.end == plan_ending::complete;
    net::async_write(
        socket_, http::make_chunk_last(),
        [self = shared_from_this(), again](beast::error_code ec, size_t) {
          if (ec || !again)
            return self->close();
          self->do_read();
        });
  }

  // Reads and discards until the client goes away (hang, stall).
  void wait_for_client() {
    socket_.async_read_some(
        net::buffer(drain_),
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec)
            return self->close();
          self->wait_for_client();
        });
  }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    if (!closed_) {
      closed_ = true;
      engine_.connection_closed();
    }
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  mock_engine& engine_;
  std::function<void()> on_scenario_change_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  response_plan plan_;
  bool keep_alive_ = true;
  http::response<http::string_body> res_;
  std::optional<http::response<http::empty_body>> head_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  size_t next_frame_ = 0;
  std::array<char, 4096> drain_;
  bool closed_ = false;
};

} // namespace

struct http_server::impl {
  impl(server_options opts, mock_engine& eng)
      : ioc(1), strand(net::make_strand(ioc)), acceptor(strand),
        signals(ioc, SIGINT, SIGTERM), engine(eng) {
    // One event loop per I/O thread, each connection on one of them for its
    // whole life: no lock, no futex wake-up and no thread hand-off between
    // the reads and writes of a connection (one loop run by several threads
    // spent as much CPU waking its threads as answering).
    for (int i = 1; i < std::max(1, opts.threads); ++i)
      workers.push_back(std::make_unique<net::io_context>(1));
    endpoint = {net::ip::make_address_v4("127.0.0.1"), opts.port};
    open();
    endpoint.port(acceptor.local_endpoint().port());
    schedule_listener();
  }

  void open() {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    do_accept();
  }

  void close_listener() {
    beast::error_code ec;
    acceptor.close(ec);
  }

  void reopen() {
    if (acceptor.is_open())
      return;
    try {
      open();
    } catch (const std::exception&) {
      // Port taken meanwhile: try again shortly.
      auto t = std::make_shared<net::steady_timer>(strand);
      t->expires_after(std::chrono::milliseconds{50});
      t->async_wait([this, t](beast::error_code ec) {
        if (!ec)
          reopen();
      });
    }
  }

  /// The loop of the next connection: in turn over every I/O thread's loop.
  net::io_context& next_loop() {
    auto n = next_worker++ % (workers.size() + 1);
    return n == 0 ? ioc : *workers[n - 1];
  }

  void do_accept() {
    acceptor.async_accept(
        next_loop(), [this](beast::error_code ec, tcp::socket sock) {
          if (ec == net::error::operation_aborted || !acceptor.is_open())
            return;
          if (!ec)
            std::make_shared<session>(std::move(sock), engine, [this] {
              net::post(strand, [this] { schedule_listener(); });
            })->start();
          do_accept();
        });
  }

  // Runs on the strand: drops the old schedule and arms the new one.
  void schedule_listener() {
    for (auto& t : timers)
      t->cancel();
    timers.clear();
    reopen();
    std::chrono::steady_clock::time_point loaded_at;
    for (const auto& ev : engine.listener_schedule(loaded_at)) {
      auto at = loaded_at + std::chrono::milliseconds{ev.at_ms};
      auto down = std::make_shared<net::steady_timer>(strand, at);
      auto up = std::make_shared<net::steady_timer>(
          strand, at + std::chrono::milliseconds{ev.close_for_ms});
      down->async_wait([this](beast::error_code ec) {
        if (!ec)
          close_listener();
      });
      up->async_wait([this](beast::error_code ec) {
        if (!ec)
          reopen();
      });
      timers.push_back(std::move(down));
      timers.push_back(std::move(up));
    }
  }

  // Declared before `ioc`, so destroyed after it: the listener's pending
  // accept holds a socket of the next connection's loop.
  /// The loops of the I/O threads but the first.
  std::vector<std::unique_ptr<net::io_context>> workers;
  size_t next_worker = 0;
  /// The first I/O thread's loop; also the listener's, signals' and timers'.
  net::io_context ioc;
  net::strand<net::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  tcp::endpoint endpoint;
  net::signal_set signals;
  mock_engine& engine;
  std::vector<std::shared_ptr<net::steady_timer>> timers;
};

http_server::http_server(server_options opts, mock_engine& engine)
    : impl_(std::make_unique<impl>(opts, engine)) {
  // nop
}

http_server::~http_server() = default;

uint16_t http_server::port() const noexcept {
  return impl_->endpoint.port();
}

void http_server::run() {
  impl_->signals.async_wait([this](beast::error_code, int) {
    impl_->ioc.stop();
    for (auto& w : impl_->workers)
      w->stop();
  });
  std::vector<std::thread> extra;
  for (auto& w : impl_->workers)
    extra.emplace_back([&ioc = *w] {
      // Runs until stopped, connection or not.
      auto guard = net::make_work_guard(ioc);
      ioc.run();
    });
  impl_->ioc.run();
  for (auto& t : extra)
    t.join();
}

} // namespace switchyard::mock
