// Event-stream bodies for the sse and sse_split suites: the SSE bodies of the
// provider wire samples plus hand-written streams that use every field.
#pragma once

#include "switchyard/sse.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

/// One event-stream body and where it came from.
struct sse_sample {
  std::string name;
  std::string body;
};

/// Reads a file of tests/wire into a string; throws if it cannot be read.
inline std::string read_wire_file(const std::string& file) {
  // Appended in steps: `std::string{...} + "/" + file` trips g++ 12's
  // -Warray-bounds false positive.
  std::string path = SWITCHYARD_WIRE_DIR;
  path += '/';
  path += file;
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

/// The SSE bodies of a `.http` wire sample: each response after `---` whose
/// Content-Type is text/event-stream, up to the next status line or `# `
/// note. Lines after a note inside such a response (the variants) that are
/// not a status line form one more body. Empty bodies are dropped.
inline std::vector<std::string> wire_sse_bodies(const std::string& file) {
  auto text = read_wire_file(file);
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < text.size();) {
    auto eol = text.find('\n', pos);
    if (eol == std::string::npos)
      eol = text.size();
    lines.emplace_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  std::vector<std::string> result;
  auto flush = [&](std::string& body) {
    if (body.find_first_not_of('\n') != std::string::npos)
      result.push_back(body);
    body.clear();
  };
  size_t i = 0;
  while (i < lines.size() && lines[i] != "---")
    ++i;
  bool in_sse = false; // inside the body of an event-stream response
  std::string body;
  while (++i < lines.size()) {
    const auto& line = lines[i];
    if (line.starts_with("HTTP/")) {
      flush(body);
      in_sse = false;
      bool is_sse = false;
      for (++i; i < lines.size() && !lines[i].empty(); ++i) {
        auto lower = lines[i];
        for (auto& c : lower)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower.starts_with("content-type:")
            && lower.find("text/event-stream") != std::string::npos)
          is_sse = true;
      }
      in_sse = is_sse;
    } else if (line.starts_with("# ")) {
      flush(body);
    } else if (in_sse) {
      body += line;
      body += '\n';
    }
  }
  flush(body);
  return result;
}

/// Replaces every LF of `lf_text` with `eol`.
inline std::string with_line_ending(std::string_view lf_text,
                                    std::string_view eol) {
  std::string result;
  for (char c : lf_text) {
    if (c == '\n')
      result += eol;
    else
      result += c;
  }
  return result;
}

/// Streams written for these tests: every field, comments, odd spacing and
/// multi-byte UTF-8.
inline std::vector<sse_sample> handwritten_sse_samples() {
  return {
      {"utf8", "event: greeting\ndata: h\xC3\xA9llo \xE2\x80\x94 "
               "\xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82\n\n"
               "data: \xF0\x9F\x99\x82\xF0\x9F\x99\x82\ndata:\xE4\xB8\x96\n\n"},
      {"fields",
       ": comment\nretry: 2500\nid: 42\nevent: add\ndata: 1\ndata\ndata:  x\n\n"
       "id\ndata:a:b\nunknown: y\n\nevent: skipped\n\ndata: z\nretry: 1x\n\n"
       "data: unterminated"},
      {"whatwg", "data: YHOO\ndata: +2\ndata: 10\n\n: test stream\n\n"
                 "data: first event\nid: 1\n\ndata:second event\nid\n\n"
                 "data:  third event\n\ndata\n\ndata\ndata\n\ndata:\n"},
  };
}

/// Every sample: wire bodies, handwritten ones, their CRLF and CR-only
/// variants, and BOM-prefixed variants.
inline std::vector<sse_sample> all_sse_samples() {
  std::vector<sse_sample> base;
  for (auto file : {"openai-chat-stream.http", "anthropic-messages-stream.http",
                    "gemini-generate.http"}) {
    auto bodies = wire_sse_bodies(file);
    for (size_t i = 0; i < bodies.size(); ++i)
      base.push_back({std::string{file} + "#" + std::to_string(i), bodies[i]});
  }
  for (auto& s : handwritten_sse_samples())
    base.push_back(std::move(s));
  std::vector<sse_sample> result;
  for (auto& s : base) {
    result.push_back({s.name + "/crlf", with_line_ending(s.body, "\r\n")});
    result.push_back({s.name + "/cr", with_line_ending(s.body, "\r")});
    result.push_back({s.name + "/bom", "\xEF\xBB\xBF" + s.body});
    result.push_back(std::move(s));
  }
  return result;
}

/// Parses `input` in one feed.
inline std::vector<sse_event> parse_sse(std::string_view input) {
  sse_parser parser;
  std::vector<sse_event> out;
  parser.feed(input, out);
  return out;
}

} // namespace switchyard::test
