#include "wire.hpp"

#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace switchyard::mock {

namespace {

using json = nlohmann::json;

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

// Text of a content field: a string, or text parts ({"text": ...}).
std::string content_text(const json& content) {
  if (content.is_string())
    return content.get<std::string>();
  std::string result;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_string()) {
        result += part.get<std::string>();
      } else if (part.is_object()) {
        auto it = part.find("text");
        if (it != part.end() && it->is_string())
          result += it->get_ref<const std::string&>();
      }
    }
  }
  return result;
}

std::string role_of(const json& msg) {
  auto it = msg.find("role");
  if (it == msg.end() || !it->is_string())
    return "user";
  auto role = it->get<std::string>();
  return role == "model" ? "assistant" : role;
}

std::optional<std::string> read_chat_messages(const json& body,
                                              mock_request& out) {
  auto it = body.find("messages");
  if (it == body.end() || !it->is_array())
    return "'messages' is a required property and must be an array";
  for (const auto& msg : *it) {
    if (!msg.is_object())
      return "each message must be an object";
    auto c = msg.find("content");
    out.messages.push_back(
        {role_of(msg), c == msg.end() ? std::string{} : content_text(*c)});
  }
  return std::nullopt;
}

std::optional<std::string> read_model(const json& body, mock_request& out) {
  auto it = body.find("model");
  if (it == body.end() || !it->is_string())
    return "'model' is a required property and must be a string";
  out.model = it->get<std::string>();
  return std::nullopt;
}

/// Like the real APIs, Anthropic's and Gemini's refuse a top-level member
/// they do not know (OpenAI's ignore some), and Anthropic's a temperature
/// above 1; names the first such member.
std::optional<std::string> refused_member(const json& body, api kind) {
  static const std::set<std::string, std::less<>> anthropic{
      "model",          "messages",     "max_tokens",  "system",
      "stop_sequences", "stream",       "temperature", "top_p",
      "top_k",          "tools",        "tool_choice", "metadata",
      "thinking",       "service_tier", "container",   "mcp_servers"};
  static const std::set<std::string, std::less<>> gemini{
      "contents",   "systemInstruction", "generationConfig", "tools",
      "toolConfig", "safetySettings",    "cachedContent",    "labels"};
  const auto& known = kind == api::gemini ? gemini : anthropic;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (known.count(it.key()) != 0)
      continue;
    if (kind == api::gemini)
      return "Invalid JSON payload received. Unknown name \"" + it.key()
             + "\": Cannot find field.";
    return it.key() + ": Extra inputs are not permitted";
  }
  if (auto t = body.find("temperature"); kind == api::anthropic_messages
                                         && t != body.end() && t->is_number()
                                         && t->get<double>() > 1)
    return std::string{"temperature: Input should be less than or equal to 1"};
  return std::nullopt;
}

bool read_flag(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_boolean() && it->get<bool>();
}

} // namespace

std::string_view to_string(api kind) noexcept {
  switch (kind) {
    case api::openai_chat:
      return "openai_chat";
    case api::openai_completions:
      return "openai_completions";
    case api::openai_models:
      return "openai_models";
    case api::anthropic_messages:
      return "anthropic_messages";
    case api::gemini:
      return "gemini";
    case api::azure_openai:
      return "azure_openai";
    case api::mock_control:
      return "mock_control";
    case api::not_found:
      break;
  }
  return "not_found";
}

route classify(std::string_view method, std::string_view target) noexcept {
  route r;
  r.path = target.substr(0, target.find('?'));
  auto path = r.path;
  bool post = method == "POST";
  if (starts_with(path, "/mock/")) {
    r.kind = api::mock_control;
  } else if (path == "/v1/chat/completions") {
    r.kind = post ? api::openai_chat : api::not_found;
  } else if (path == "/v1/completions") {
    r.kind = post ? api::openai_completions : api::not_found;
  } else if (path == "/v1/models") {
    r.kind = method == "GET" ? api::openai_models : api::not_found;
  } else if (path == "/v1/messages") {
    r.kind = post ? api::anthropic_messages : api::not_found;
  } else if (post && starts_with(path, "/v1beta/models/")) {
    auto rest = path.substr(15);
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && colon > 0) {
      auto action = rest.substr(colon + 1);
      if (action == "generateContent" || action == "streamGenerateContent") {
        r.kind = api::gemini;
        r.path_model = rest.substr(0, colon);
        r.path_stream = action == "streamGenerateContent";
      }
    }
  } else if (post && starts_with(path, "/openai/deployments/")) {
    auto rest = path.substr(20);
    auto slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0
        && rest.substr(slash) == "/chat/completions") {
      r.kind = api::azure_openai;
      r.path_model = rest.substr(0, slash);
    }
  }
  return r;
}

expected<mock_request> parse_request(const route& r, std::string_view body) {
  mock_request out;
  out.kind = r.kind;
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return unexpected{std::string{"We could not parse the JSON body of your "
                                  "request: expected a JSON object."}};
  std::optional<std::string> err;
  switch (r.kind) {
    case api::openai_chat:
    case api::anthropic_messages:
      if ((err = read_model(doc, out)) || (err = read_chat_messages(doc, out)))
        return unexpected{std::move(*err)};
      if (r.kind == api::anthropic_messages) {
        if ((err = refused_member(doc, r.kind)))
          return unexpected{std::move(*err)};
        if (auto sys = doc.find("system"); sys != doc.end())
          out.messages.insert(out.messages.begin(),
                              {"system", content_text(*sys)});
      }
      break;
    case api::azure_openai:
      out.model = std::string{r.path_model};
      if ((err = read_chat_messages(doc, out)))
        return unexpected{std::move(*err)};
      break;
    case api::openai_completions: {
      if ((err = read_model(doc, out)))
        return unexpected{std::move(*err)};
      auto p = doc.find("prompt");
      if (p == doc.end() || !(p->is_string() || p->is_array()))
        return unexpected{std::string{"'prompt' is a required property"}};
      out.messages.push_back({"user", content_text(*p)});
      break;
    }
    case api::gemini: {
      out.model = std::string{r.path_model};
      out.stream = r.path_stream;
      if ((err = refused_member(doc, r.kind)))
        return unexpected{std::move(*err)};
      if (auto sys = doc.find("systemInstruction");
          sys != doc.end() && sys->is_object()) {
        if (auto parts = sys->find("parts"); parts != sys->end())
          out.messages.push_back({"system", content_text(*parts)});
      }
      auto contents = doc.find("contents");
      if (contents == doc.end() || !contents->is_array())
        return unexpected{
            std::string{"* GenerateContentRequest.contents: contents is not "
                        "specified"}};
      for (const auto& c : *contents) {
        if (!c.is_object())
          return unexpected{std::string{"each content must be an object"}};
        auto parts = c.find("parts");
        out.messages.push_back({role_of(c), parts == c.end()
                                                ? std::string{}
                                                : content_text(*parts)});
      }
      return out;
    }
    default:
      return out;
  }
  out.stream = read_flag(doc, "stream");
  if (auto so = doc.find("stream_options"); so != doc.end() && so->is_object())
    out.include_usage = read_flag(*so, "include_usage");
  return out;
}

} // namespace switchyard::mock
