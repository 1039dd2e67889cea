#include "wire.hpp"

#include <utility>

namespace switchyard::wire {

failure bad_request(std::string message) {
  return make_failure(engine_code::unsupported_request, std::move(message));
}

failure malformed(std::string message, int status) {
  auto f = make_failure(engine_code::malformed_response, std::move(message));
  f.status = status;
  return f;
}

expected<json, failure> parse_json(std::string_view text, std::string_view what,
                                   int status) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    return unexpected{
        malformed(std::string{what} + " is not valid JSON", status)};
  return doc;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json* member(const json& j, std::string_view key) {
  if (!j.is_object())
    return nullptr;
  auto i = j.find(key);
  return i == j.end() ? nullptr : &*i;
}

std::string string_of(const json& j, std::string_view key) {
  if (auto m = member(j, key); m != nullptr && m->is_string())
    return m->get<std::string>();
  return {};
}

std::optional<int64_t> int_of(const json& j, std::string_view key) {
  if (auto m = member(j, key); m != nullptr && m->is_number_integer())
    return m->get<int64_t>();
  return std::nullopt;
}

void merge_extra(json& body, const json& extra) {
  if (!extra.is_object())
    return;
  for (auto i = extra.begin(); i != extra.end(); ++i)
    body[i.key()] = i.value();
}

std::string resolve_model(const chat_request& req, const endpoint& ep) {
  return ep.model.empty() ? req.model : ep.model;
}

std::string join_url(std::string_view base, std::string_view version,
                     std::string_view path) {
  while (!base.empty() && base.back() == '/')
    base.remove_suffix(1);
  std::string out{base};
  if (!version.empty() && !base.ends_with(version))
    out += version;
  out += path;
  return out;
}

std::string_view base_url_of(const endpoint& ep, provider_kind kind) {
  if (!ep.base_url.empty())
    return ep.base_url;
  return defaults_of(kind).base_url;
}

void add_headers(header_list& out, const endpoint& ep, bool stream,
                 provider_kind kind) {
  out.push_back({"Content-Type", "application/json"});
  if (stream)
    out.push_back({"Accept", "text/event-stream"});
  auto native = defaults_of(kind).auth_header;
  if (!ep.api_key.empty() && ep.auth != auth_style::none) {
    if (ep.auth == auth_style::bearer && native.empty())
      out.push_back({"Authorization", "Bearer " + ep.api_key});
    else if (!ep.auth_header.empty())
      out.push_back({ep.auth_header, ep.api_key});
    else
      out.push_back(
          {std::string{native.empty() ? "x-api-key" : native}, ep.api_key});
  }
  for (const auto& h : ep.extra_headers)
    out.push_back(h);
}

std::optional<data_url> parse_data_url(std::string_view url) {
  constexpr std::string_view prefix = "data:";
  constexpr std::string_view marker = ";base64,";
  if (!url.starts_with(prefix))
    return std::nullopt;
  url.remove_prefix(prefix.size());
  auto pos = url.find(marker);
  if (pos == std::string_view::npos)
    return std::nullopt;
  return data_url{std::string{url.substr(0, pos)},
                  std::string{url.substr(pos + marker.size())}};
}

std::string image_url_of(const content_part& part) {
  auto img = member(part.raw, "image_url");
  if (img == nullptr)
    return {};
  if (img->is_string())
    return img->get<std::string>();
  return string_of(*img, "url");
}

finish_reason openai_finish(std::string_view raw) {
  if (raw == "stop")
    return finish_reason::stop;
  if (raw == "length")
    return finish_reason::length;
  if (raw == "tool_calls" || raw == "function_call")
    return finish_reason::tool_calls;
  if (raw == "content_filter")
    return finish_reason::content_filter;
  return finish_reason::unknown;
}

} // namespace switchyard::wire
