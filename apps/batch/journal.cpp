#include "journal.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace switchyard::batch {

namespace {

using json = nlohmann::json;

std::string sys_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

json to_json(const journal_state& st) {
  return {{"format", "switchyard-batch/1"},
          {"input", st.input},
          {"input_bytes", st.fingerprint.bytes},
          {"input_lines", st.fingerprint.lines},
          {"input_fnv1a64", st.fingerprint.hash_hex()}};
}

/// Writes `text` to `path` through a temporary file, fsync and rename, so
/// that the state file is either absent or whole.
expected<bool, std::string> write_atomic(const std::string& path,
                                         const std::string& text) {
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return unexpected{sys_error(tmp)};
  bool ok = ::write(fd, text.data(), text.size())
                == static_cast<ssize_t>(text.size())
            && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return unexpected{sys_error(path)};
  return true;
}

bool exists(const std::string& path, off_t* size = nullptr) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0)
    return false;
  if (size != nullptr)
    *size = sb.st_size;
  return true;
}

} // namespace

journal::~journal() {
  if (owned_ && fd_ >= 0)
    ::close(fd_);
}

std::string journal::state_path(const std::string& output) {
  return output + ".state";
}

expected<bool, std::string> journal::create(const std::string& output,
                                            const journal_state& st) {
  last_sync_ = std::chrono::steady_clock::now();
  if (output == "-") {
    fd_ = STDOUT_FILENO;
    return true;
  }
  off_t size = 0;
  if (exists(output, &size) && size > 0)
    return unexpected{output
                      + " already holds output: pass --resume to finish that "
                        "batch, or remove it to start again"};
  if (auto ok = write_atomic(state_path(output), to_json(st).dump() + "\n");
      !ok)
    return ok;
  fd_ = ::open(output.c_str(),
               O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    return unexpected{sys_error(output)};
  owned_ = true;
  return true;
}

expected<resume_scan, std::string> journal::resume(const std::string& output,
                                                   const journal_state& st,
                                                   std::vector<bool>& done) {
  auto spath = state_path(output);
  if (!exists(spath)) {
    off_t size = 0;
    if (exists(output, &size) && size > 0)
      return unexpected{"cannot resume: " + spath
                        + " is missing, so nothing says which input " + output
                        + " was made from"};
    // Killed before the first line was written: start afresh.
    if (auto ok = create(output, st); !ok)
      return unexpected{ok.error()};
    return resume_scan{};
  }
  json recorded;
  try {
    std::ifstream in{spath};
    recorded = json::parse(in);
  } catch (const std::exception& err) {
    return unexpected{spath + ": unreadable state file: " + err.what()};
  }
  if (recorded.value("input_bytes", uint64_t{0}) != st.fingerprint.bytes
      || recorded.value("input_fnv1a64", std::string{})
             != st.fingerprint.hash_hex())
    return unexpected{
        "refusing to resume: " + st.input + " is not the input " + output
        + " was made from (" + spath + " records "
        + recorded.value("input", std::string{"?"}) + ", "
        + std::to_string(recorded.value("input_bytes", uint64_t{0}))
        + " bytes, fingerprint "
        + recorded.value("input_fnv1a64", std::string{"?"})
        + "; this input has " + std::to_string(st.fingerprint.bytes)
        + " bytes, fingerprint " + st.fingerprint.hash_hex() + ")"};
  fd_ = ::open(output.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    return unexpected{sys_error(output)};
  owned_ = true;
  last_sync_ = std::chrono::steady_clock::now();
  // Read every line back; `good` is where the last whole line ends.
  resume_scan scan;
  done.assign(st.fingerprint.lines + 1, false);
  std::string rest;
  std::vector<char> block(1 << 20);
  off_t good = 0;
  off_t pos = 0;
  uint64_t out_line = 0;
  std::optional<std::string> bad; // a line that does not read back
  auto take = [&](std::string_view text) {
    ++out_line;
    json doc = json::parse(text, nullptr, false);
    const json* sy = nullptr;
    if (!doc.is_discarded() && doc.is_object())
      if (auto it = doc.find("switchyard"); it != doc.end() && it->is_object())
        sy = &*it;
    if (sy == nullptr || !sy->contains("line") || !(*sy)["line"].is_number()
        || !doc.contains("custom_id")) {
      bad = output + " line " + std::to_string(out_line)
            + " is not a switchyard-batch output line";
      return;
    }
    auto n = (*sy)["line"].get<uint64_t>();
    if (n == 0 || n >= done.size()) {
      bad = output + " line " + std::to_string(out_line) + " names input line "
            + std::to_string(n) + ", which the input does not have";
      return;
    }
    if (done[n]) {
      bad = output + " line " + std::to_string(out_line)
            + " answers input line " + std::to_string(n) + " a second time";
      return;
    }
    done[n] = true;
    ++scan.lines;
    if (auto e = doc.find("error"); e != doc.end() && !e->is_null())
      ++scan.errors;
  };
  ssize_t n = 0;
  while (!bad && (n = ::pread(fd_, block.data(), block.size(), pos)) > 0) {
    auto chunk_start = pos;
    pos += n;
    std::string_view chunk{block.data(), static_cast<size_t>(n)};
    size_t at = 0;
    while (at < chunk.size()) {
      auto nl = chunk.find('\n', at);
      if (nl == std::string_view::npos) {
        rest.append(chunk.substr(at));
        break;
      }
      if (rest.empty()) {
        take(chunk.substr(at, nl - at));
      } else {
        rest.append(chunk.substr(at, nl - at));
        take(rest);
        rest.clear();
      }
      // A whole line that does not read back is not a torn write (only
      // the unterminated tail can be one): refuse rather than guess.
      if (bad)
        return unexpected{"cannot resume: " + *bad};
      good = chunk_start + static_cast<off_t>(nl) + 1;
      at = nl + 1;
    }
  }
  if (n < 0)
    return unexpected{sys_error(output)};
  off_t size = 0;
  exists(output, &size);
  if (size > good) {
    scan.torn_bytes = static_cast<uint64_t>(size - good);
    if (::ftruncate(fd_, good) != 0)
      return unexpected{sys_error(output)};
    ::fdatasync(fd_);
  }
  return scan;
}

void journal::append(std::string_view line) {
  if (pending_lines_ == 0)
    first_pending_ = std::chrono::steady_clock::now();
  pending_.append(line);
  pending_.push_back('\n');
  if (++pending_lines_ >= group_lines)
    write_group();
}

void journal::tick(std::chrono::steady_clock::time_point now) {
  if (pending_lines_ > 0 && now - first_pending_ >= group_ms)
    write_group();
  if (dirty_ && now - last_sync_ >= sync_ms)
    sync();
}

void journal::finish() {
  write_group();
  sync();
}

void journal::write_group() {
  size_t off = 0;
  while (off < pending_.size() && error_.empty()) {
    auto n = ::write(fd_, pending_.data() + off, pending_.size() - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      error_ = sys_error("writing the output");
      break;
    }
    off += static_cast<size_t>(n);
  }
  dirty_ = dirty_ || off > 0;
  pending_.clear();
  pending_lines_ = 0;
}

void journal::sync() {
  if (!dirty_ || !owned_)
    return;
  ::fdatasync(fd_);
  dirty_ = false;
  last_sync_ = std::chrono::steady_clock::now();
}

} // namespace switchyard::batch
