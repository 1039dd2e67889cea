// One-connection HTTP latency of several endpoints that answer the same
// request (e.g. the mock directly, nginx in front of it, the gateway in front
// of it): one libcurl easy handle per target, kept alive, one request at a
// time, targets alternating in blocks so that a drift of the machine's load
// hits all of them alike. Numbers, not pass/fail.
//
//   bench-http_latency --target direct=http://127.0.0.1:P1/v1/chat/completions
//                      --target gateway=http://127.0.0.1:P2/v1/chat/completions
//                      [--requests 5000] [--warmup 200] [--block 100]
//                      [--body JSON] [--header "k: v"]... [--stream]
//
// Non-streaming: the time of the whole request (curl_easy_perform). With
// --stream the body gets "stream":true and the time is to the first SSE
// `data:` line whose delta carries content (OpenAI `"content":"<non-empty>`,
// Anthropic `"text":"<non-empty>`), the transfer then runs to its end on
// the same connection. Prints one line per target:
//   name requests errors p50 p90 p99 mean (µs)
// and for every target after the first its p50/p99 minus the first's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

namespace {

using clock_type = std::chrono::steady_clock;

struct target {
  std::string name;
  std::string url;
  CURL* handle = nullptr;
  std::vector<double> samples_us;
  long errors = 0;
};

// State of one transfer, for the write callback.
struct transfer {
  bool stream = false;
  clock_type::time_point start;
  std::optional<clock_type::time_point> first_content;
  std::string pending; // unfinished SSE line
};

// True when an SSE `data:` line carries non-empty content.
bool has_content(std::string_view line) {
  if (line.substr(0, 5) != "data:")
    return false;
  for (std::string_view key :
       {std::string_view{"\"content\":\""}, std::string_view{"\"text\":\""}}) {
    for (auto pos = line.find(key); pos != std::string_view::npos;
         pos = line.find(key, pos + 1)) {
      auto next = pos + key.size();
      if (next < line.size() && line[next] != '"')
        return true;
    }
  }
  return false;
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  auto n = size * count;
  if (t->stream && !t->first_content) {
    t->pending.append(data, n);
    size_t from = 0;
    for (auto nl = t->pending.find('\n', from); nl != std::string::npos;
         nl = t->pending.find('\n', from)) {
      if (has_content(std::string_view{t->pending}.substr(from, nl - from))) {
        t->first_content = clock_type::now();
        break;
      }
      from = nl + 1;
    }
    t->pending.erase(0, from);
  }
  return n;
}

// Returns the sample in µs, or a negative number on an error.
double run_once(target& tgt, bool stream) {
  transfer t;
  t.stream = stream;
  curl_easy_setopt(tgt.handle, CURLOPT_WRITEDATA, &t);
  t.start = clock_type::now();
  auto rc = curl_easy_perform(tgt.handle);
  auto end = clock_type::now();
  long status = 0;
  curl_easy_getinfo(tgt.handle, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK || status != 200 || (stream && !t.first_content))
    return -1;
  auto until = stream ? *t.first_content : end;
  return std::chrono::duration<double, std::micro>(until - t.start).count();
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto i = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"one-connection HTTP latency of several targets"};
  std::vector<std::string> target_args;
  std::vector<std::string> headers{"content-type: application/json"};
  int requests = 5000;
  int warmup = 200;
  int block = 100;
  bool stream = false;
  std::string body = R"({"model":"gpt-4o-mini","messages":[{"role":"user",)"
                     R"("content":"Say hello to the benchmark"}],)"
                     R"("max_tokens":32})";
  app.add_option("--target", target_args, "name=URL (repeatable)")->required();
  app.add_option("--requests", requests, "measured requests per target")
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--warmup", warmup, "unmeasured requests per target first")
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--block", block, "requests per target before switching")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--body", body, "request body (JSON)");
  app.add_option("--header", headers, "extra request header (repeatable)");
  app.add_flag("--stream", stream,
               "add \"stream\":true, measure time to first content");
  CLI11_PARSE(app, argc, argv);

  if (stream) {
    auto close = body.rfind('}');
    if (close == std::string::npos) {
      std::fprintf(stderr, "--body is not a JSON object\n");
      return 2;
    }
    body.insert(close, ",\"stream\":true");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_slist* header_list = nullptr;
  for (auto& h : headers)
    header_list = curl_slist_append(header_list, h.c_str());
  std::vector<target> targets;
  for (auto& arg : target_args) {
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "--target %s: expected name=URL\n", arg.c_str());
      return 2;
    }
    target t;
    t.name = arg.substr(0, eq);
    t.url = arg.substr(eq + 1);
    t.handle = curl_easy_init();
    curl_easy_setopt(t.handle, CURLOPT_URL, t.url.c_str());
    curl_easy_setopt(t.handle, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(t.handle, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(body.size()));
    curl_easy_setopt(t.handle, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(t.handle, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(t.handle, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(t.handle, CURLOPT_TIMEOUT_MS, 10'000L);
    curl_easy_setopt(t.handle, CURLOPT_NOSIGNAL, 1L);
    t.samples_us.reserve(static_cast<size_t>(requests));
    targets.push_back(std::move(t));
  }

  for (auto& t : targets)
    for (int i = 0; i < warmup; ++i)
      if (run_once(t, stream) < 0)
        ++t.errors;
  for (auto& t : targets)
    t.errors = 0;
  for (int done = 0; done < requests; done += block) {
    auto n = std::min(block, requests - done);
    for (auto& t : targets)
      for (int i = 0; i < n; ++i) {
        auto us = run_once(t, stream);
        if (us < 0)
          ++t.errors;
        else
          t.samples_us.push_back(us);
      }
  }

  std::printf("%-10s %8s %6s %9s %9s %9s %9s   (%s, µs)\n", "target",
              "requests", "errors", "p50", "p90", "p99", "mean",
              stream ? "time to first content" : "request latency");
  std::vector<std::pair<double, double>> p50_p99;
  for (auto& t : targets) {
    std::sort(t.samples_us.begin(), t.samples_us.end());
    double sum = 0;
    for (auto s : t.samples_us)
      sum += s;
    auto mean = t.samples_us.empty()
                    ? 0.0
                    : sum / static_cast<double>(t.samples_us.size());
    auto p50 = quantile(t.samples_us, 0.50);
    auto p99 = quantile(t.samples_us, 0.99);
    p50_p99.emplace_back(p50, p99);
    std::printf("%-10s %8zu %6ld %9.1f %9.1f %9.1f %9.1f\n", t.name.c_str(),
                t.samples_us.size(), t.errors, p50,
                quantile(t.samples_us, 0.90), p99, mean);
  }
  for (size_t i = 1; i < targets.size(); ++i)
    std::printf("added %s over %s: p50 %+.1f µs, p99 %+.1f µs\n",
                targets[i].name.c_str(), targets[0].name.c_str(),
                p50_p99[i].first - p50_p99[0].first,
                p50_p99[i].second - p50_p99[0].second);
  for (auto& t : targets)
    curl_easy_cleanup(t.handle);
  curl_slist_free_all(header_list);
  curl_global_cleanup();
  return 0;
}
