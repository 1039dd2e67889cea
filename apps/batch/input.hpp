#pragma once

// The batch input: a JSONL stream read one line at a time (never loaded
// whole), each line read into a call or a problem to report.

#include "switchyard/expected.hpp"
#include "switchyard/model.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace switchyard::batch {

/// One input line that can be sent.
struct batch_line {
  /// 1-based physical line number in the input.
  uint64_t number = 0;
  std::string custom_id;
  /// The route to send it on; empty means the config's default route.
  std::string route;
  chat_request req;
};

/// One input line that cannot be sent: it gets an error line in the output.
struct line_problem {
  uint64_t number = 0;
  /// The line's custom_id when it had one, else `line-N`.
  std::string custom_id;
  /// `invalid_json`, `invalid_request`, `unknown_route` or
  /// `duplicate_custom_id`.
  std::string code;
  /// `line N: <what is wrong>`.
  std::string message;
};

/// What to check each line against.
struct line_rules {
  /// `--route`: every line goes there and `body.model` is ignored.
  std::string route_override;
  /// The routes of the config and its default route (may be empty).
  std::vector<std::string> routes;
  std::string default_route;
};

/// Reads one non-blank input line: the OpenAI Batch API request shape
/// (`custom_id`, `method`, `url`, `body`) or a plain chat-request object
/// (custom_id `line-N`). Duplicates are not checked here (`custom_id_set`).
std::variant<batch_line, line_problem> read_batch_line(std::string_view text,
                                                       uint64_t number,
                                                       const line_rules& rules);

/// True when `text` holds only whitespace (such lines are skipped).
bool is_blank(std::string_view text) noexcept;

/// What identifies an input file: its size and a hash of its bytes.
struct input_fingerprint {
  uint64_t bytes = 0;
  uint64_t fnv1a64 = 0;
  /// Physical lines (the last one may lack its newline).
  uint64_t lines = 0;
  /// Lines that are not blank: the output lines a finished batch has.
  uint64_t records = 0;

  /// The hash as 16 hex digits.
  std::string hash_hex() const;
};

/// Reads the whole file once (in fixed-size blocks) to fingerprint it.
expected<input_fingerprint, std::string>
fingerprint_file(const std::string& path);

/// Streams lines from a file or standard input (`-`).
class line_source {
public:
  ~line_source();
  line_source() = default;
  line_source(const line_source&) = delete;
  line_source& operator=(const line_source&) = delete;

  expected<bool, std::string> open(const std::string& path);

  /// The next line without its newline, valid until the next call; nullopt
  /// at the end. `number()` is then its 1-based line number.
  std::optional<std::string_view> next();

  uint64_t number() const noexcept {
    return number_;
  }

  /// True when reading failed (not at a clean end of input).
  bool failed() const noexcept;

private:
  FILE* file_ = nullptr;
  bool owned_ = false;
  char* buf_ = nullptr;
  size_t cap_ = 0;
  uint64_t number_ = 0;
};

/// A compact set of custom_ids: their 64-bit hashes in one open-addressing
/// table (16 bytes per id at most). Two different ids share a hash with a
/// probability of about n^2 / 2^65 (1e-7 at a million lines).
class custom_id_set {
public:
  /// Adds `id`; false when it was already there.
  bool insert(std::string_view id);

  size_t size() const noexcept {
    return size_;
  }

private:
  void grow();

  std::vector<uint64_t> slots_; // 0 = empty
  size_t size_ = 0;
};

/// FNV-1a 64 over `bytes`, continuing from `h`.
uint64_t fnv1a64(std::string_view bytes,
                 uint64_t h = 0xcbf29ce484222325ULL) noexcept;

} // namespace switchyard::batch
