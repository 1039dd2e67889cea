// Error classification shared by every wire format. The three error shapes
// are told apart by their fields, so one classifier serves all adapters:
//   OpenAI / Azure:  {"error":{"message","type","code"}}
//   Anthropic:       {"type":"error","error":{"type","message"}}
//   Gemini:          {"error":{"code":429,"message","status","details"}}

#include "wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>

namespace switchyard::wire {

namespace {

/// The fields of an error document that classification looks at.
struct error_info {
  std::string code;    // OpenAI `code`
  std::string type;    // OpenAI / Anthropic `type`
  std::string status;  // Gemini `status`
  std::string message; // lower-cased for matching
  std::string original_message;
  const json* details = nullptr; // Gemini `details`
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return s;
}

error_info extract(const json& body) {
  error_info out;
  const json* doc = &body;
  if (doc->is_array() && !doc->empty())
    doc = &doc->front();
  const json* err = member(*doc, "error");
  if (err != nullptr && err->is_object()) {
    out.code = string_of(*err, "code");
    out.type = string_of(*err, "type");
    out.status = string_of(*err, "status");
    out.original_message = string_of(*err, "message");
    if (auto d = member(*err, "details"); d != nullptr && d->is_array())
      out.details = d;
  } else if (err != nullptr && err->is_string()) {
    out.original_message = err->get<std::string>();
  } else {
    out.original_message = string_of(*doc, "message");
    if (out.original_message.empty())
      out.original_message = string_of(*doc, "detail");
  }
  out.message = lower(out.original_message);
  return out;
}

bool contains_any(std::string_view text,
                  std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [text](auto n) {
    return text.find(n) != std::string_view::npos;
  });
}

bool has_token(const error_info& e,
               std::initializer_list<std::string_view> tokens) {
  for (const auto* field : {&e.code, &e.type, &e.status}) {
    auto v = lower(*field);
    if (std::find(tokens.begin(), tokens.end(), v) != tokens.end())
      return true;
  }
  return false;
}

/// Gemini `details` entries of one protobuf type.
template <class F>
void for_each_detail(const error_info& e, std::string_view type_suffix, F f) {
  if (e.details == nullptr)
    return;
  for (const auto& d : *e.details)
    if (string_of(d, "@type").ends_with(type_suffix))
      f(d);
}

/// Gemini RESOURCE_EXHAUSTED covers both a per-minute limit (passes with
/// time: its generic message even says "check quota", and it usually comes
/// with a RetryInfo) and a spent daily or billing quota (does not). We call it
/// quota only for a per-day quota violation, or a message about billing.
bool gemini_quota(const error_info& e) {
  bool per_day = false;
  for_each_detail(e, "QuotaFailure", [&](const json& d) {
    if (auto v = member(d, "violations"); v != nullptr && v->is_array())
      for (const auto& violation : *v)
        if (contains_any(lower(string_of(violation, "quotaId")), {"perday"}))
          per_day = true;
  });
  return per_day || contains_any(e.message, {"billing"});
}

bool is_quota(int status, const error_info& e) {
  if (has_token(e, {"insufficient_quota", "billing_hard_limit_reached",
                    "billing_not_active", "quota_exceeded"}))
    return true;
  if (has_token(e, {"resource_exhausted"}))
    return gemini_quota(e);
  bool rate_context
      = status == 429 || status < 400
        || has_token(e, {"rate_limit_error", "rate_limit_exceeded"});
  return rate_context
         && contains_any(e.message,
                         {"exceeded your current quota", "billing details",
                          "insufficient_quota", "quota exceeded"});
}

bool is_context_length(const error_info& e) {
  return has_token(e, {"context_length_exceeded", "string_above_max_length"})
         || contains_any(e.message, {"maximum context length", "context length",
                                     "context_length", "context window",
                                     "prompt is too long", "too many tokens",
                                     "input is too long",
                                     "exceeds the maximum number of tokens"});
}

bool is_content_filter(const error_info& e) {
  return has_token(e, {"content_filter", "content_policy_violation",
                       "responsibleaipolicyviolation", "safety"})
         || contains_any(e.message,
                         {"content management policy", "content policy",
                          "content_policy_violation", "safety reasons"});
}

std::optional<error_class> by_status(int status) {
  switch (status) {
    case 429:
      return error_class::rate_limited;
    case 503:
    case 529:
      return error_class::overloaded;
    case 408:
      return error_class::timeout;
    case 401:
    case 403:
      return error_class::auth;
    default:
      break;
  }
  if (status >= 500 && status < 600)
    return error_class::server_error;
  if (status >= 400 && status < 500)
    return error_class::bad_request;
  return std::nullopt;
}

std::optional<error_class> by_type(const error_info& e) {
  if (has_token(e, {"rate_limit_error", "rate_limit_exceeded",
                    "resource_exhausted", "rate_limited"}))
    return error_class::rate_limited;
  if (has_token(e, {"authentication_error", "permission_error",
                    "unauthenticated", "permission_denied", "invalid_api_key"}))
    return error_class::auth;
  if (has_token(e, {"api_error", "server_error", "internal", "unknown"}))
    return error_class::server_error;
  if (has_token(e, {"timeout", "timeout_error", "deadline_exceeded"}))
    return error_class::timeout;
  if (has_token(e, {"invalid_request_error", "not_found_error",
                    "request_too_large", "invalid_argument", "not_found",
                    "failed_precondition", "model_not_found"}))
    return error_class::bad_request;
  return std::nullopt;
}

/// Gemini's RetryInfo `retryDelay` ("37s", "1.5s").
std::optional<timespan> gemini_retry_delay(const error_info& e) {
  std::optional<timespan> out;
  for_each_detail(e, "RetryInfo", [&](const json& d) {
    auto v = string_of(d, "retryDelay");
    if (v.size() < 2 || v.back() != 's')
      return;
    double secs = 0;
    auto end = v.data() + v.size() - 1;
    auto [ptr, ec] = std::from_chars(v.data(), end, secs);
    if (ec == std::errc{} && ptr == end && std::isfinite(secs) && secs >= 0
        && secs < 1e9)
      out = std::chrono::duration_cast<timespan>(
          std::chrono::duration<double>{secs});
  });
  return out;
}

error_class decide(int status, const error_info& e) {
  bool client_side
      = (status >= 400 && status < 500 && status != 429) || status < 400;
  if (is_quota(status, e))
    return error_class::quota_exhausted;
  if (has_token(e, {"overloaded_error", "unavailable", "overloaded"}))
    return error_class::overloaded;
  if (client_side && is_context_length(e))
    return error_class::context_length;
  if (client_side && is_content_filter(e))
    return error_class::content_filter;
  if (auto cls = by_status(status))
    return *cls;
  if (auto cls = by_type(e))
    return *cls;
  return error_class::server_error;
}

} // namespace

bool is_error_document(const json& body) {
  auto err = member(body, "error");
  return (err != nullptr && !err->is_null())
         || string_of(body, "type") == "error";
}

failure classify_error_json(int status, const header_list& headers,
                            const json& body, std::optional<wall_time> now) {
  auto e = extract(body);
  failure f;
  f.cls = decide(status, e);
  f.status = status;
  f.code = !e.code.empty() ? e.code : !e.type.empty() ? e.type : e.status;
  f.message = e.original_message;
  if (now) {
    f.retry_after = parse_retry_after(headers, *now);
  } else {
    header_list numeric;
    for (const auto& h : headers)
      if (h.value.empty()
          || std::isdigit(static_cast<unsigned char>(h.value[0])))
        numeric.push_back(h);
    f.retry_after = parse_retry_after(numeric, wall_time{});
  }
  if (!f.retry_after)
    f.retry_after = gemini_retry_delay(e);
  f.should_retry = parse_should_retry(headers);
  return f;
}

failure classify_error(int status, const header_list& headers,
                       std::string_view body, std::optional<wall_time> now) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    // Proxies and load balancers answer with HTML or plain text.
    doc = json::object();
    auto text = body.substr(0, 512);
    doc["message"] = std::string{text};
  }
  return classify_error_json(status, headers, doc, now);
}

} // namespace switchyard::wire
