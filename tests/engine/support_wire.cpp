#include "engine/support_wire.hpp"

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace switchyard::test {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      out.push_back(text);
      break;
    }
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string_view chomp(std::string_view line) {
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

bool is_note(std::string_view line) {
  return line.starts_with("# ") || line == "#";
}

std::string note_text(std::string_view line) {
  return std::string{line.size() > 2 ? line.substr(2) : std::string_view{}};
}

bool is_status_line(std::string_view line) {
  return line.starts_with("HTTP/") && line.size() > 5
         && std::isdigit(static_cast<unsigned char>(line[5]));
}

bool is_blank(std::string_view line) {
  return chomp(line).empty();
}

void trim_trailing_space(std::string& s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
}

/// Reads "Name: value" lines from `i` up to the blank line, which it skips.
expected<header_list, std::string>
read_headers(const std::vector<std::string_view>& lines, size_t& i) {
  header_list out;
  for (; i < lines.size() && !is_blank(lines[i]); ++i) {
    auto line = chomp(lines[i]);
    if (is_note(line))
      continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return unexpected{"header line without a colon: " + std::string{line}};
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    out.push_back({std::string{line.substr(0, colon)}, std::string{value}});
  }
  if (i < lines.size())
    ++i;
  return out;
}

bool is_event_stream(const header_list& headers) {
  auto type = find_header(headers, "content-type");
  return type && type->find("text/event-stream") != std::string_view::npos;
}

} // namespace

expected<wire_sample, std::string> parse_wire(std::string_view text) {
  auto lines = split_lines(text);
  wire_sample out;
  size_t i = 0;
  std::vector<std::string> pending;
  auto skip_preamble = [&] {
    for (; i < lines.size() && (is_blank(lines[i]) || is_note(lines[i])); ++i)
      if (is_note(lines[i]))
        pending.push_back(note_text(lines[i]));
  };
  skip_preamble();
  if (i < lines.size() && !is_status_line(lines[i])) {
    wire_request req;
    auto first = chomp(lines[i++]);
    auto sp1 = first.find(' ');
    auto sp2 = first.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos)
      return unexpected{"bad request line: " + std::string{first}};
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    auto headers = read_headers(lines, i);
    if (!headers)
      return unexpected{headers.error()};
    req.headers = std::move(*headers);
    for (; i < lines.size() && chomp(lines[i]) != "---"; ++i)
      if (!is_note(lines[i]))
        req.body.append(lines[i]).push_back('\n');
    trim_trailing_space(req.body);
    if (i == lines.size())
      return unexpected{std::string{"request not followed by ---"}};
    ++i;
    out.request = std::move(req);
    pending.clear();
    skip_preamble();
  }
  while (i < lines.size()) {
    auto status_line = chomp(lines[i++]);
    if (!is_status_line(status_line))
      return unexpected{"expected a status line: " + std::string{status_line}};
    wire_response resp;
    resp.lead_notes = std::move(pending);
    pending.clear();
    auto code = status_line.substr(status_line.find(' ') + 1, 3);
    auto [ptr, ec]
        = std::from_chars(code.data(), code.data() + code.size(), resp.status);
    if (ec != std::errc{} || ptr != code.data() + code.size())
      return unexpected{"bad status: " + std::string{status_line}};
    auto headers = read_headers(lines, i);
    if (!headers)
      return unexpected{headers.error()};
    resp.headers = std::move(*headers);
    // Notes stay pending until we know whether a body line or the next
    // status line follows them.
    std::vector<wire_note> body_notes;
    for (; i < lines.size() && !is_status_line(lines[i]); ++i) {
      if (is_note(lines[i])) {
        body_notes.push_back({resp.body.size(), note_text(lines[i])});
        continue;
      }
      if (!is_blank(lines[i])) {
        for (auto& n : body_notes)
          resp.notes.push_back(std::move(n));
        body_notes.clear();
      }
      resp.body.append(lines[i]).push_back('\n');
    }
    if (i < lines.size() && !body_notes.empty()) {
      resp.body.resize(body_notes.front().offset);
      for (auto& n : body_notes)
        pending.push_back(std::move(n.text));
    } else {
      for (auto& n : body_notes)
        resp.notes.push_back(std::move(n));
    }
    if (!is_event_stream(resp.headers))
      trim_trailing_space(resp.body);
    out.responses.push_back(std::move(resp));
  }
  return out;
}

expected<wire_sample, std::string> load_wire(std::string_view name) {
  auto path = std::string{SWITCHYARD_WIRE_DIR} + "/" + std::string{name};
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return unexpected{"cannot open " + path};
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse_wire(buf.str());
}

std::vector<sse_event> sse_events(std::string_view body) {
  sse_parser parser;
  std::vector<sse_event> out;
  parser.feed(body, out);
  return out;
}

decoded_stream decode_stream(const adapter& a, std::string_view body) {
  decoded_stream out;
  auto decoder = a.make_stream_decoder();
  for (const auto& ev : sse_events(body)) {
    if (auto err = decoder->on_event(ev, out.events)) {
      out.error = std::move(err);
      break;
    }
  }
  out.finished = decoder->finished();
  out.produced_content = decoder->produced_content();
  return out;
}

std::string streamed_text(const std::vector<stream_event>& events) {
  std::string out;
  for (const auto& ev : events)
    if (auto d = std::get_if<text_delta>(&ev))
      out += d->text;
  return out;
}

std::string diff_request(const http_request& got, const wire_request& want) {
  std::string out;
  if (got.method != want.method)
    out += "method " + got.method + " != " + want.method + "; ";
  auto scheme = got.url.find("://");
  auto slash = got.url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto target = slash == std::string::npos ? "" : got.url.substr(slash);
  if (target != want.target)
    out += "target " + target + " != " + want.target + "; ";
  for (const auto& h : want.headers) {
    if (h.name == "Host")
      continue;
    auto v = find_header(got.headers, h.name);
    if (!v || *v != h.value)
      out += "header " + h.name + ": " + std::string{v.value_or("<none>")}
             + " != " + h.value + "; ";
  }
  for (auto name : {"Authorization", "x-api-key", "api-key", "x-goog-api-key"})
    if (find_header(got.headers, name) && !find_header(want.headers, name))
      out += std::string{"unexpected header "} + name + "; ";
  auto got_body = nlohmann::json::parse(got.body, nullptr, false);
  auto want_body = nlohmann::json::parse(want.body, nullptr, false);
  if (got_body.is_discarded() || got_body != want_body)
    out += "body " + got.body + " != " + want.body + "; ";
  return out;
}

wall_time test_now() {
  using namespace std::chrono;
  return wall_time{sys_days{year{2026} / November / 23}.time_since_epoch()
                   + hours{10}};
}

message msg(role r, std::string text) {
  message m;
  m.from = r;
  m.text = std::move(text);
  return m;
}

nlohmann::json body_of(const http_request& req) {
  return nlohmann::json::parse(req.body);
}

} // namespace switchyard::test
