#include "wire.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace switchyard::mock {

namespace {

using ojson = nlohmann::ordered_json;

enum class family : uint8_t { openai, anthropic, gemini };

family family_of(api kind) noexcept {
  switch (kind) {
    case api::anthropic_messages:
      return family::anthropic;
    case api::gemini:
      return family::gemini;
    default:
      return family::openai;
  }
}

/// What one error looks like in each format.
struct error_spec {
  int status;
  std::string message;
  // OpenAI
  const char* type;
  const char* param; // nullptr = JSON null
  const char* code;  // nullptr = JSON null
  // Anthropic
  const char* anthropic_type;
  // Gemini
  const char* gemini_status;
};

const char* reason(int status) noexcept {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Request Entity Too Large";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 529:
      return "Overloaded";
    default:
      return status >= 500 ? "Server Error" : "Client Error";
  }
}

const char* anthropic_type_for(int status) noexcept {
  switch (status) {
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

const char* gemini_status_for(int status) noexcept {
  switch (status) {
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 500:
      return "INTERNAL";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

error_spec spec_for(const fault_plan& plan, family fam,
                    std::string_view model) {
  std::string m{model};
  switch (plan.error) {
    case error_fault::rate_limit: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.3gs", plan.rate_limit_seconds);
      return {429,
              fam == family::gemini
                  ? "Resource has been exhausted (e.g. check quota)."
                  : "Rate limit reached for " + m
                        + " on requests per min (RPM). Please try again in "
                        + buf + ".",
              "requests",
              nullptr,
              "rate_limit_exceeded",
              "rate_limit_error",
              "RESOURCE_EXHAUSTED"};
    }
    case error_fault::quota:
      return {429,
              fam == family::anthropic
                  ? "Your credit balance is too low to access the API "
                    "(insufficient_quota)."
                  : "You exceeded your current quota, please check your plan "
                    "and billing details.",
              "insufficient_quota",
              nullptr,
              "insufficient_quota",
              "billing_error",
              "RESOURCE_EXHAUSTED"};
    case error_fault::overloaded:
      return {fam == family::anthropic ? 529 : 503,
              fam == family::anthropic ? "Overloaded"
              : fam == family::gemini
                  ? "The model is overloaded. Please try again later."
                  : "The engine is currently overloaded, please try again "
                    "later.",
              "server_error",
              nullptr,
              nullptr,
              "overloaded_error",
              "UNAVAILABLE"};
    case error_fault::server_error:
      return {500,
              fam == family::anthropic ? "Internal server error"
                                       : "The server had an error while "
                                         "processing your request. Sorry "
                                         "about that!",
              "server_error",
              nullptr,
              nullptr,
              "api_error",
              "INTERNAL"};
    case error_fault::auth:
      return {401,
              fam == family::anthropic ? "invalid x-api-key"
                                       : "Incorrect API key provided.",
              "invalid_request_error",
              nullptr,
              "invalid_api_key",
              "authentication_error",
              "UNAUTHENTICATED"};
    case error_fault::context_length:
      return {400,
              fam == family::anthropic
                  ? "prompt is too long: 212345 tokens > 200000 maximum"
              : fam == family::gemini
                  ? "The input token count (1212345) exceeds the maximum "
                    "number of tokens allowed (1048576)."
                  : "This model's maximum context length is 128000 tokens. "
                    "However, your messages resulted in 130512 tokens. Please "
                    "reduce the length of the messages.",
              "invalid_request_error",
              "messages",
              "context_length_exceeded",
              "invalid_request_error",
              "INVALID_ARGUMENT"};
    case error_fault::content_filter:
      return {400,
              fam == family::anthropic
                  ? "Output blocked by content filtering policy"
                  : "The response was filtered due to the prompt triggering "
                    "content management policy.",
              "invalid_request_error",
              "prompt",
              "content_filter",
              "invalid_request_error",
              "INVALID_ARGUMENT"};
    default: {
      int st = plan.status_code;
      return {st,
              std::string{"Mock status "} + std::to_string(st) + ": "
                  + reason(st),
              st >= 500 ? "server_error" : "invalid_request_error",
              nullptr,
              nullptr,
              anthropic_type_for(st),
              gemini_status_for(st)};
    }
  }
}

rendered render_spec(family fam, const error_spec& s) {
  rendered r;
  r.status = s.status;
  auto opt = [](const char* v) { return v ? ojson(v) : ojson(nullptr); };
  switch (fam) {
    case family::anthropic:
      r.body = ojson{{"type", "error"},
                     {"error",
                      {{"type", s.anthropic_type}, {"message", s.message}}}}
                   .dump();
      break;
    case family::gemini:
      r.body = ojson{{"error",
                      {{"code", s.status},
                       {"message", s.message},
                       {"status", s.gemini_status}}}}
                   .dump();
      break;
    case family::openai:
      r.body = ojson{{"error",
                      {{"message", s.message},
                       {"type", s.type},
                       {"param", opt(s.param)},
                       {"code", opt(s.code)}}}}
                   .dump();
      break;
  }
  return r;
}

} // namespace

rendered render_error(api kind, const fault_plan& plan,
                      std::string_view model) {
  auto fam = family_of(kind);
  auto r = render_spec(fam, spec_for(plan, fam, model));
  if (plan.error == error_fault::rate_limit) {
    auto s = plan.rate_limit_seconds;
    r.headers.emplace_back("retry-after",
                           std::to_string(static_cast<int64_t>(std::ceil(s))));
    r.headers.emplace_back("retry-after-ms",
                           std::to_string(std::llround(s * 1000.0)));
    if (fam == family::openai)
      r.headers.emplace_back("x-ratelimit-remaining-requests", "0");
  }
  return r;
}

rendered render_bad_request(api kind, std::string_view message) {
  auto fam = family_of(kind);
  return render_spec(fam, {400, std::string{message}, "invalid_request_error",
                           nullptr, nullptr, "invalid_request_error",
                           "INVALID_ARGUMENT"});
}

rendered render_not_found(std::string_view method, std::string_view target) {
  std::string msg = "Unknown request URL: ";
  msg += method;
  msg += ' ';
  msg += target;
  msg += ". Please check the URL for typos.";
  return render_spec(family::openai,
                     {404, std::move(msg), "invalid_request_error", nullptr,
                      "unknown_url", "not_found_error", "NOT_FOUND"});
}

void add_fault_headers(const fault_plan& plan, header_pairs& headers) {
  if (plan.should_retry)
    headers.emplace_back("x-should-retry",
                         *plan.should_retry ? "true" : "false");
  if (plan.retry_after_ms) {
    for (auto it = headers.begin(); it != headers.end(); ++it) {
      if (it->first == "retry-after-ms") {
        headers.erase(it);
        break;
      }
    }
    headers.emplace_back("retry-after-ms",
                         std::to_string(*plan.retry_after_ms));
  }
}

} // namespace switchyard::mock
