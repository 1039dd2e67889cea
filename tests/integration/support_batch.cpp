#include "integration/support_batch.hpp"

#include "integration/support_http.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/test/unit_test.hpp>

namespace switchyard::test {

temp_dir::temp_dir() {
  std::string tmpl = "/tmp/switchyard-batch-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    CAF_FAIL("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::file(const std::string& name) const {
  return path_ + "/" + name;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
  if (!out)
    CAF_FAIL("cannot write " << path);
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_lines(const std::string& path) {
  auto text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

nlohmann::json batch_request(const std::string& id, const std::string& text,
                             const std::string& model) {
  return {{"custom_id", id},
          {"method", "POST"},
          {"url", "/v1/chat/completions"},
          {"body",
           {{"model", model},
            {"messages", {{{"role", "user"}, {"content", text}}}}}}};
}

void write_requests(const std::string& path, size_t n) {
  std::string text;
  for (size_t i = 0; i < n; ++i)
    text += batch_request("r" + std::to_string(i),
                          "question " + std::to_string(i))
                .dump()
            + "\n";
  write_file(path, text);
}

child_process start_batch(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binary_path("switchyard-batch")};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = child_process::start(argv);
  if (!child)
    CAF_FAIL("cannot start switchyard-batch: " << child.error());
  return std::move(*child);
}

batch_outcome run_batch(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout) {
  auto child = start_batch(args);
  auto rc = child.wait(timeout);
  if (!rc) {
    child.stop();
    CAF_FAIL("switchyard-batch did not finish within " << timeout.count()
                                                       << " ms; stderr:\n"
                                                       << child.stderr_text());
  }
  return {*rc, child.stderr_text()};
}

std::vector<nlohmann::json> read_output(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::vector<nlohmann::json> out;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("custom_id")
        || !doc.contains("response") || !doc.contains("error")
        || !doc.contains("id") || !doc.contains("switchyard")) {
      CAF_ERROR(path << " line " << n
                     << " is not a batch output line: " << line);
      continue;
    }
    out.push_back(std::move(doc));
  }
  return out;
}

std::map<std::string, int> count_ids(const std::vector<nlohmann::json>& out) {
  std::map<std::string, int> ids;
  for (const auto& line : out)
    ++ids[line["custom_id"].get<std::string>()];
  return ids;
}

std::string answer_text(const nlohmann::json& line) {
  if (!line["response"].is_object())
    return {};
  return line["response"]["body"]["choices"][0]["message"]["content"]
      .get<std::string>();
}

std::string mock_answer(const mock_server& m, const std::string& model,
                        const std::string& text) {
  nlohmann::json body{{"model", model},
                      {"messages", {{{"role", "user"}, {"content", text}}}}};
  auto res = http_post(m.base_url() + "/v1/chat/completions", body.dump());
  if (res.status != 200)
    CAF_FAIL("reference mock answered " << res.status << ": " << res.body);
  auto doc = nlohmann::json::parse(res.body);
  return doc["choices"][0]["message"]["content"].get<std::string>();
}

} // namespace switchyard::test
