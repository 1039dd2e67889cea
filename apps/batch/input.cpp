#include "input.hpp"

#include "openai_request.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

namespace switchyard::batch {

namespace {

using json = nlohmann::json;

line_problem problem(uint64_t number, std::string custom_id, std::string code,
                     const std::string& what) {
  if (custom_id.empty())
    custom_id = "line-" + std::to_string(number);
  return {number, std::move(custom_id), std::move(code),
          "line " + std::to_string(number) + ": " + what};
}

} // namespace

uint64_t fnv1a64(std::string_view bytes, uint64_t h) noexcept {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

bool is_blank(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
}

std::variant<batch_line, line_problem>
read_batch_line(std::string_view text, uint64_t number,
                const line_rules& rules) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& err) {
    // parse_error, and out_of_range for a number too large for a double.
    return problem(number, {}, "invalid_json",
                   std::string{"not JSON: "} + err.what());
  }
  if (!doc.is_object())
    return problem(number, {}, "invalid_request",
                   std::string{"expected a JSON object, got "}
                       + doc.type_name());
  batch_line out;
  out.number = number;
  const json* body = &doc;
  std::string prefix;
  if (auto body_it = doc.find("body"); body_it != doc.end()) {
    // The OpenAI Batch API request shape.
    prefix = "body.";
    auto id = doc.find("custom_id");
    if (id == doc.end() || !id->is_string() || id->get<std::string>().empty())
      return problem(number, {}, "invalid_request",
                     "custom_id: expected a non-empty string");
    out.custom_id = id->get<std::string>();
    if (auto m = doc.find("method");
        m != doc.end() && (!m->is_string() || *m != "POST"))
      return problem(number, out.custom_id, "invalid_request",
                     "method: expected \"POST\", got " + m->dump());
    if (auto u = doc.find("url");
        u != doc.end() && (!u->is_string() || *u != "/v1/chat/completions"))
      return problem(number, out.custom_id, "invalid_request",
                     "url: expected \"/v1/chat/completions\", got "
                         + u->dump());
    body = &*body_it;
  } else if (auto id = doc.find("custom_id"); id != doc.end()) {
    if (!id->is_string() || id->get<std::string>().empty())
      return problem(number, {}, "invalid_request",
                     "custom_id: expected a non-empty string");
    out.custom_id = id->get<std::string>();
  } else {
    out.custom_id = "line-" + std::to_string(number);
  }
  if (!body->is_object())
    return problem(number, out.custom_id, "invalid_request",
                   std::string{"body: expected an object, got "}
                       + body->type_name());
  std::optional<json> plain;
  if (body == &doc) {
    // A plain chat object may carry custom_id next to the chat fields.
    plain = doc;
    plain->erase("custom_id");
    body = &*plain;
  }
  auto req = parse_openai_chat(*body);
  if (!req)
    return problem(number, out.custom_id, "invalid_request",
                   prefix + req.error());
  out.req = std::move(*req);
  if (out.req.stream)
    return problem(number, out.custom_id, "invalid_request",
                   prefix + "stream: a batch line cannot be streamed");
  if (!rules.route_override.empty()) {
    out.route = rules.route_override;
  } else if (auto m = body->find("model"); m != body->end()) {
    out.route = m->get<std::string>();
    if (std::find(rules.routes.begin(), rules.routes.end(), out.route)
        == rules.routes.end())
      return problem(number, out.custom_id, "unknown_route",
                     prefix + "model: \"" + out.route
                         + "\" is not a route of the config (pass --route to "
                           "send every line to one route)");
  } else if (rules.default_route.empty()) {
    return problem(number, out.custom_id, "unknown_route",
                   prefix
                       + "model: missing, and the config has no default route "
                         "(pass --route)");
  }
  return out;
}

std::string input_fingerprint::hash_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(fnv1a64));
  return buf;
}

expected<input_fingerprint, std::string>
fingerprint_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f{std::fopen(path.c_str(), "rb"),
                                          &std::fclose};
  if (!f)
    return unexpected{path + ": " + std::strerror(errno)};
  input_fingerprint fp;
  fp.fnv1a64 = fnv1a64({});
  std::vector<char> block(1 << 20);
  bool content = false; // the current line has a non-blank character
  bool open_line = false;
  size_t n = 0;
  while ((n = std::fread(block.data(), 1, block.size(), f.get())) > 0) {
    std::string_view chunk{block.data(), n};
    fp.fnv1a64 = fnv1a64(chunk, fp.fnv1a64);
    fp.bytes += n;
    for (char c : chunk) {
      if (c == '\n') {
        ++fp.lines;
        fp.records += content ? 1 : 0;
        content = false;
        open_line = false;
      } else {
        open_line = true;
        if (c != ' ' && c != '\t' && c != '\r')
          content = true;
      }
    }
  }
  if (std::ferror(f.get()))
    return unexpected{path + ": " + std::strerror(errno)};
  if (open_line) {
    ++fp.lines;
    fp.records += content ? 1 : 0;
  }
  return fp;
}

line_source::~line_source() {
  std::free(buf_);
  if (owned_ && file_ != nullptr)
    std::fclose(file_);
}

expected<bool, std::string> line_source::open(const std::string& path) {
  if (path == "-") {
    file_ = stdin;
    return true;
  }
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr)
    return unexpected{path + ": " + std::strerror(errno)};
  owned_ = true;
  return true;
}

std::optional<std::string_view> line_source::next() {
  auto n = ::getline(&buf_, &cap_, file_);
  if (n < 0)
    return std::nullopt;
  ++number_;
  std::string_view line{buf_, static_cast<size_t>(n)};
  if (!line.empty() && line.back() == '\n')
    line.remove_suffix(1);
  return line;
}

bool line_source::failed() const noexcept {
  return file_ != nullptr && std::ferror(file_) != 0;
}

bool custom_id_set::insert(std::string_view id) {
  auto h = fnv1a64(id);
  h = h == 0 ? 1 : h; // 0 marks an empty slot
  if ((size_ + 1) * 2 > slots_.size())
    grow();
  auto mask = slots_.size() - 1;
  for (auto i = h & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h)
      return false;
    if (slots_[i] == 0) {
      slots_[i] = h;
      ++size_;
      return true;
    }
  }
}

void custom_id_set::grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(std::max<size_t>(1024, old.size() * 2), 0);
  auto mask = slots_.size() - 1;
  for (auto h : old) {
    if (h == 0)
      continue;
    auto i = h & mask;
    while (slots_[i] != 0)
      i = (i + 1) & mask;
    slots_[i] = h;
  }
}

} // namespace switchyard::batch
