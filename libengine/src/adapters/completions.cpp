// OpenAI's legacy `/v1/completions`: a prompt string in, `choices[].text`
// out. Still served by many local model servers.

#include "json_writer.hpp"
#include "wire.hpp"

namespace switchyard::wire {

namespace {

/// A lone user message is the prompt itself; a conversation is rendered as
/// "role: text" lines with a trailing "assistant:" for the model to continue.
expected<std::string, failure> render_prompt(const chat_request& req) {
  for (const auto& m : req.messages) {
    for (const auto& p : m.parts)
      if (p.type != "text")
        return unexpected{bad_request("openai_completions: content part of "
                                      "type '"
                                      + p.type + "' is not supported")};
    if (!m.tool_calls.empty() || m.from == role::tool)
      return unexpected{
          bad_request("openai_completions: tool calls are not supported")};
  }
  if (req.messages.size() == 1 && req.messages.front().from == role::user)
    return req.messages.front().plain_text();
  std::string out;
  for (const auto& m : req.messages) {
    out += to_string(m.from);
    out += ": ";
    out += m.plain_text();
    out += '\n';
  }
  out += "assistant:";
  return out;
}

class completions_adapter final : public adapter {
public:
  provider_kind kind() const noexcept override {
    return provider_kind::openai_completions;
  }

  expected<http_request, failure>
  build_request(const chat_request& req, const endpoint& ep) const override {
    if (req.messages.empty())
      return unexpected{
          bad_request("openai_completions: request has no messages")};
    if (has_tools(req))
      return unexpected{
          bad_request("openai_completions: tools are not supported")};
    if (!req.response_format.is_null())
      return unexpected{
          bad_request("openai_completions: response_format is not supported")};
    auto model = resolve_model(req, ep);
    if (model.empty())
      return unexpected{bad_request("openai_completions: no model given")};
    auto prompt = render_prompt(req);
    if (!prompt)
      return unexpected{prompt.error()};
    auto body = openai_body(req, model, &*prompt);
    if (!body)
      return unexpected{std::move(body.error())};
    http_request out;
    out.url = join_url(base_url_of(ep, kind()), "/v1", "/completions");
    out.body = std::move(*body);
    add_headers(out.headers, ep, req.stream, kind());
    return out;
  }

  expected<chat_response, failure>
  parse_response(const http_response& resp) const override {
    return parse_openai_response(resp);
  }

  std::unique_ptr<stream_decoder> make_stream_decoder() const override {
    return make_openai_decoder();
  }

  failure classify(const http_response& resp, wall_time now) const override {
    return classify_error(resp.status, resp.headers, resp.body, now);
  }
};

} // namespace

const adapter& openai_completions_adapter() {
  static const completions_adapter instance;
  return instance;
}

} // namespace switchyard::wire
