#pragma once

// `Expect: 100-continue` for the Beast servers (gateway and mock): a client
// that asks for it (curl does for bodies above 1 MB) waits for leave before
// it sends its body, a second by default, unless the server answers at once.

#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

namespace switchyard {

/// Once `parser` has read a request's head: when the client expects
/// `100 Continue` and its body is still to come, writes it to `stream` and
/// then calls `next(ec)`; otherwise calls `next({})` at once.
template <class Stream, class Parser, class Next>
void continue_if_expected(Stream& stream, const Parser& parser, Next next) {
  const auto& head = parser.get();
  auto expect = head.find(boost::beast::http::field::expect);
  if (parser.is_done() || head.version() < 11 || expect == head.end()
      || !boost::beast::iequals(expect->value(), "100-continue"))
    return next(boost::beast::error_code{});
  static constexpr std::string_view go = "HTTP/1.1 100 Continue\r\n\r\n";
  boost::asio::async_write(
      stream, boost::asio::buffer(go.data(), go.size()),
      [next = std::move(next)](boost::beast::error_code ec,
                               std::size_t) mutable { next(ec); });
}

} // namespace switchyard
