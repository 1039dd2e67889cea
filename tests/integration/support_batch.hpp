#pragma once

// Helpers for the batch_* suites: temporary files, inputs, running
// switchyard-batch as a real process, reading its output back.

#include "integration/support_process.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::test {

/// A fresh directory under /tmp, removed with its files at the end.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// path() + "/" + name.
  std::string file(const std::string& name) const;

  const std::string& path() const noexcept {
    return path_;
  }

private:
  std::string path_;
};

/// Writes `text` to `path` (replacing it).
void write_file(const std::string& path, const std::string& text);

/// The whole file (empty when missing).
std::string read_file(const std::string& path);

/// Number of newline characters in the file (0 when missing).
size_t count_lines(const std::string& path);

/// An OpenAI Batch API request line: custom_id `id`, one user message.
nlohmann::json batch_request(const std::string& id, const std::string& text,
                             const std::string& model = "chat");

/// Writes `n` request lines with custom_ids r0..r(n-1), texts "question i".
void write_requests(const std::string& path, size_t n);

/// What a finished switchyard-batch run left.
struct batch_outcome {
  int exit_code = -1;
  std::string err;
};

/// Runs bin/switchyard-batch with `args`; fails the test if it does not end
/// within `timeout`.
batch_outcome run_batch(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout
                        = std::chrono::seconds{60});

/// Starts bin/switchyard-batch with `args` without waiting.
child_process start_batch(const std::vector<std::string>& args);

/// Reads the output line by line with a JSON parser (failing the test for a
/// line that does not parse or lacks the batch output fields).
std::vector<nlohmann::json> read_output(const std::string& path);

/// How many output lines carry each custom_id.
std::map<std::string, int> count_ids(const std::vector<nlohmann::json>& out);

/// The answer text of an output line (empty for an error line).
std::string answer_text(const nlohmann::json& line);

/// The mock's answer to `text` from `model`, asked directly over HTTP.
std::string mock_answer(const mock_server& m, const std::string& model,
                        const std::string& text);

} // namespace switchyard::test
