// What a client is told: the dispatch by dialect and the mapping of engine
// failures to statuses a client's SDK understands.
#include "api.hpp"

#include <cmath>

namespace switchyard::gateway {

expected<parsed_call, client_error> parse_request(dialect d,
                                                  std::string_view body) {
  switch (d) {
    case dialect::openai_chat:
      return parse_openai_chat(body);
    case dialect::openai_completions:
      return parse_openai_completions(body);
    case dialect::anthropic:
      break;
  }
  return parse_anthropic(body);
}

std::string render_response(dialect d, const chat_response& res) {
  switch (d) {
    case dialect::openai_chat:
      return detail::render_openai_chat(res);
    case dialect::openai_completions:
      return detail::render_openai_completion(res);
    case dialect::anthropic:
      break;
  }
  return detail::render_anthropic(res);
}

std::string render_error(dialect d, const client_error& err) {
  return is_openai(d) ? detail::render_openai_error(err)
                      : detail::render_anthropic_error(err);
}

std::unique_ptr<sse_encoder> make_encoder(dialect d, bool include_usage) {
  if (d == dialect::anthropic)
    return detail::make_anthropic_encoder();
  return detail::make_openai_encoder(d == dialect::openai_completions,
                                     include_usage);
}

void append_comment(std::string& out, std::string_view text) {
  out += ": ";
  for (char c : text)
    out += (c == '\n' || c == '\r') ? ' ' : c;
  out += "\n\n";
}

namespace {

/// A provider's message may quote a URL or more; only requests' problems
/// (400s) pass it on, and never one that names an address.
std::string safe_upstream_message(const failure& f, std::string fallback) {
  if (f.message.empty() || f.message.find("://") != std::string::npos
      || f.message.size() > 1000)
    return fallback;
  return f.message;
}

int64_t seconds_up(timespan t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  return std::max<int64_t>(1, (ms + 999) / 1000);
}

std::string what_failed(const failure& f) {
  std::string out{to_string(f.cls)};
  if (f.status != 0)
    out += " (HTTP " + std::to_string(f.status) + ")";
  return out;
}

} // namespace

client_error map_failure(dialect d, const failure& f,
                         std::optional<timespan> retry_after) {
  client_error err;
  auto overloaded = [&](std::string msg) {
    err.status = d == dialect::anthropic ? 529 : 503;
    err.message = std::move(msg);
    if (retry_after)
      err.retry_after_s = seconds_up(*retry_after);
  };
  if (f.engine) {
    switch (*f.engine) {
      case engine_code::deadline_exceeded:
      case engine_code::first_token_timeout:
      case engine_code::stream_max_duration:
        err.status = 504;
        err.message = "the call's deadline passed before an upstream answered";
        err.code = "timeout";
        return err;
      case engine_code::local_rate_limit:
        err.status = 429;
        err.message = "every target of the route is at its rate limit";
        err.code = "rate_limit_exceeded";
        if (retry_after)
          err.retry_after_s = seconds_up(*retry_after);
        return err;
      case engine_code::shutdown:
        overloaded("the gateway is shutting down");
        return err;
      case engine_code::slow_consumer:
        overloaded("the client did not read the stream fast enough");
        return err;
      case engine_code::unknown_route:
        err.status = 404;
        err.message = "unknown model (route)";
        err.code = "model_not_found";
        return err;
      case engine_code::unknown_deployment:
        err.status = 400;
        err.message = "x-switchyard-pin names no deployment";
        err.param = "x-switchyard-pin";
        return err;
      case engine_code::unsupported_request:
        err.status = 400;
        err.message = safe_upstream_message(
            f, "the request cannot be expressed for the upstream provider");
        return err;
      case engine_code::cancelled:
        err.status = 499;
        err.message = "the call was cancelled";
        return err;
      case engine_code::breaker_open:
      case engine_code::marked_down:
      case engine_code::queue_full:
      case engine_code::all_targets_unavailable:
      case engine_code::no_targets:
      case engine_code::restart_limit:
        overloaded("no upstream deployment can take the call now");
        return err;
      default:
        break; // the class decides below
    }
  }
  switch (f.cls) {
    case error_class::rate_limited:
      err.status = 429;
      err.message = "the upstream providers rate-limited the call";
      err.code = "rate_limit_exceeded";
      if (retry_after)
        err.retry_after_s = seconds_up(*retry_after);
      break;
    case error_class::overloaded:
      overloaded("the upstream providers are overloaded");
      break;
    case error_class::timeout:
      err.status = 504;
      err.message = "the upstream providers did not answer in time";
      err.code = "timeout";
      break;
    case error_class::bad_request:
      err.status = 400;
      err.message = safe_upstream_message(f, "the upstream rejected the "
                                             "request as invalid");
      break;
    case error_class::context_length:
      err.status = 400;
      err.message = safe_upstream_message(
          f, "the messages exceed the model's context length");
      err.code = "context_length_exceeded";
      err.param = "messages";
      break;
    case error_class::content_filter:
      err.status = 400;
      err.message = "the upstream's content filter rejected the request";
      err.code = "content_filter";
      break;
    case error_class::cancelled:
      err.status = 499;
      err.message = "the call was cancelled";
      break;
    default:
      // auth, quota, server errors, connection, malformed: the operator's
      // problem, not the client's.
      err.status = 502;
      err.message = "the upstream providers failed: " + what_failed(f);
      err.code = "upstream_error";
  }
  return err;
}

client_error map_failure(dialect d, const call_error& e) {
  auto hint = e.retry_after ? e.retry_after : e.retry_in;
  return map_failure(d, e.failure, hint);
}

} // namespace switchyard::gateway
