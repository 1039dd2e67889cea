#include "openai_response.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace switchyard::batch {

namespace {

/// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s) noexcept {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size())
      return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
        return false;
    i += len;
  }
  return true;
}

/// Builds one JSON line by appending; the lines are rendered by hand
/// because a DOM per output line was a tenth of the runner's CPU.
class line_writer {
public:
  explicit line_writer(std::string& out) : out_(out) {
    // nop
  }

  line_writer& raw(std::string_view text) {
    out_.append(text);
    return *this;
  }

  line_writer& str(std::string_view s) {
    bool plain = true;
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) {
        plain = false;
        break;
      }
    }
    if (plain) {
      out_.push_back('"');
      out_.append(s);
      out_.push_back('"');
      return *this;
    }
    if (!valid_utf8(s)) {
      // Rare: let the library replace the broken sequences.
      out_.append(
          nlohmann::json(std::string{s})
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return *this;
    }
    out_.push_back('"');
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      switch (ch) {
        case '"':
          out_.append("\\\"");
          break;
        case '\\':
          out_.append("\\\\");
          break;
        case '\n':
          out_.append("\\n");
          break;
        case '\r':
          out_.append("\\r");
          break;
        case '\t':
          out_.append("\\t");
          break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out_.append(buf);
          } else {
            out_.push_back(ch);
          }
      }
    }
    out_.push_back('"');
    return *this;
  }

  line_writer& num(int64_t x) {
    out_.append(std::to_string(x));
    return *this;
  }

  /// `"key":` (keys are plain ASCII).
  line_writer& key(std::string_view k) {
    out_.push_back('"');
    out_.append(k);
    out_.append("\":");
    return *this;
  }

private:
  std::string& out_;
};

std::string batch_id(const line_meta& meta) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "batch_req_%016llx%08llx",
                static_cast<unsigned long long>(meta.run_nonce),
                static_cast<unsigned long long>(meta.line));
  return buf;
}

int64_t ms(timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

void write_head(line_writer& w, const line_meta& meta, const std::string& id) {
  w.raw("{").key("id").str(id).raw(",").key("custom_id").str(meta.custom_id);
}

void write_switchyard(line_writer& w, const line_meta& meta,
                      const std::vector<attempt_record>* trail) {
  w.raw(",").key("switchyard").raw("{").key("line");
  w.num(static_cast<int64_t>(meta.line));
  if (trail == nullptr || trail->empty()) {
    w.raw(",\"provider\":null,\"deployment\":null,\"model\":null,"
          "\"attempts\":0,\"fell_back\":false");
  } else {
    const auto& last = trail->back();
    w.raw(",").key("provider").str(last.provider);
    w.raw(",").key("deployment").str(last.deployment);
    w.raw(",").key("model").str(last.model);
    w.raw(",").key("attempts").num(static_cast<int64_t>(trail->size()));
    w.raw(",")
        .key("fell_back")
        .raw(fell_back(*trail, meta.primary) ? "true" : "false");
  }
  w.raw(",").key("latency_ms").num(meta.latency.count());
  w.raw(",").key("requeued").num(meta.requeued);
  if (trail != nullptr && !trail->empty()) {
    w.raw(",").key("trail").raw("[");
    for (size_t i = 0; i < trail->size(); ++i) {
      const auto& a = (*trail)[i];
      w.raw(i == 0 ? "{" : ",{").key("deployment").str(a.deployment);
      w.raw(",").key("class").str(a.cls ? to_string(*a.cls) : "ok");
      w.raw(",").key("status").num(a.status);
      w.raw(",").key("latency_ms").num(ms(a.latency));
      if (!a.reason.empty())
        w.raw(",").key("reason").str(a.reason);
      w.raw("}");
    }
    w.raw("]");
  }
  w.raw("}}");
}

void write_completion(line_writer& w, const chat_response& resp) {
  w.raw("{").key("id").str(resp.id);
  w.raw(",\"object\":\"chat.completion\",").key("created");
  w.num(static_cast<int64_t>(std::time(nullptr)));
  w.raw(",").key("model").str(resp.model);
  w.raw(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",")
      .key("content");
  if (resp.text.empty() && !resp.tool_calls.empty())
    w.raw("null");
  else
    w.str(resp.text);
  if (!resp.tool_calls.empty()) {
    w.raw(",").key("tool_calls").raw("[");
    for (size_t i = 0; i < resp.tool_calls.size(); ++i) {
      const auto& c = resp.tool_calls[i];
      w.raw(i == 0 ? "{" : ",{").key("id").str(c.id);
      w.raw(",\"type\":\"function\",\"function\":{").key("name").str(c.name);
      w.raw(",").key("arguments").str(c.arguments).raw("}}");
    }
    w.raw("]");
  }
  auto finish = resp.finish == finish_reason::unknown ? std::string_view{"stop"}
                                                      : to_string(resp.finish);
  w.raw("},\"logprobs\":null,").key("finish_reason").str(finish).raw("}]");
  w.raw(",\"usage\":{").key("prompt_tokens").num(resp.usage.prompt_tokens);
  w.raw(",").key("completion_tokens").num(resp.usage.completion_tokens);
  w.raw(",").key("total_tokens").num(resp.usage.total_tokens).raw("}}");
}

} // namespace

bool fell_back(const std::vector<attempt_record>& trail,
               std::string_view primary) {
  return !trail.empty() && trail.back().deployment != primary;
}

std::string render_answer(const line_meta& meta, const chat_response& resp) {
  std::string out;
  out.reserve(512 + resp.text.size());
  line_writer w{out};
  auto id = batch_id(meta);
  write_head(w, meta, id);
  w.raw(",\"response\":{\"status_code\":200,").key("request_id");
  w.str(resp.id.empty() ? id : resp.id).raw(",").key("body");
  write_completion(w, resp);
  w.raw("},\"error\":null");
  write_switchyard(w, meta, &resp.attempts);
  return out;
}

std::string render_failure(const line_meta& meta, const call_error& err) {
  std::string out;
  line_writer w{out};
  write_head(w, meta, batch_id(meta));
  w.raw(",\"response\":null,\"error\":{").key("code");
  w.str(to_string(err.failure.cls)).raw(",").key("message");
  w.str(to_string(err.failure)).raw("}");
  write_switchyard(w, meta, &err.attempts);
  return out;
}

std::string render_problem(const line_meta& meta, std::string_view code,
                           std::string_view message) {
  std::string out;
  line_writer w{out};
  write_head(w, meta, batch_id(meta));
  w.raw(",\"response\":null,\"error\":{").key("code").str(code);
  w.raw(",").key("message").str(message).raw("}");
  write_switchyard(w, meta, nullptr);
  return out;
}

} // namespace switchyard::batch
