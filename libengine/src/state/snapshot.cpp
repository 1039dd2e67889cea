#include "switchyard/state_snapshot.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace switchyard {

namespace {

using json = nlohmann::json;

/// The format's version; a snapshot of another version is ignored.
constexpr int format_version = 1;

/// The states a snapshot keeps; operator overrides stay with the operator.
std::optional<breaker_state> parse_state(std::string_view x) {
  for (auto st :
       {breaker_state::closed, breaker_state::open, breaker_state::half_open,
        breaker_state::forced_open, breaker_state::forced_closed})
    if (to_string(st) == x)
      return st;
  return std::nullopt;
}

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

std::string encode_snapshot(const state_snapshot& x) {
  json deps = json::array();
  for (auto& d : x.deployments) {
    json obj{{"name", d.name},
             {"breaker", std::string{to_string(d.breaker)}},
             {"reopens", d.reopens}};
    if (d.breaker == breaker_state::open)
      obj["open_until_ms"] = d.open_until_ms;
    if (d.down_until_ms != 0) {
      obj["down_until_ms"] = d.down_until_ms;
      obj["down_class"] = std::string{to_string(d.down_class)};
    }
    deps.push_back(std::move(obj));
  }
  json doc{{"version", format_version},
           {"written_ms", x.written_ms},
           {"deployments", std::move(deps)}};
  return doc.dump(1);
}

expected<state_snapshot, std::string> decode_snapshot(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded())
    return unexpected{std::string{"not valid JSON"}};
  if (!doc.is_object())
    return unexpected{std::string{"expected a JSON object"}};
  auto v = doc.find("version");
  if (v == doc.end() || !v->is_number_integer() || *v != format_version)
    return unexpected{"unsupported version (expected "
                      + std::to_string(format_version) + ")"};
  state_snapshot out;
  if (auto w = doc.find("written_ms"); w != doc.end() && w->is_number_integer())
    out.written_ms = w->get<int64_t>();
  auto deps = doc.find("deployments");
  if (deps == doc.end() || !deps->is_array())
    return unexpected{std::string{"deployments: expected an array"}};
  for (size_t i = 0; i < deps->size(); ++i) {
    auto& d = (*deps)[i];
    auto where = "deployments[" + std::to_string(i) + "]";
    auto bad = [&](const char* what) -> expected<state_snapshot, std::string> {
      return unexpected{where + ": " + what};
    };
    if (!d.is_object())
      return bad("expected an object");
    deployment_snapshot ds;
    auto name = d.find("name");
    if (name == d.end() || !name->is_string() || name->empty())
      return bad("missing name");
    ds.name = name->get<std::string>();
    auto br = d.find("breaker");
    auto st = br != d.end() && br->is_string()
                  ? parse_state(br->get_ref<const std::string&>())
                  : std::nullopt;
    if (!st)
      return bad("bad breaker state");
    ds.breaker = *st;
    auto integer = [&](const char* key, int64_t min, int64_t& dst) {
      auto i = d.find(key);
      if (i == d.end())
        return true;
      if (!i->is_number_integer() || i->get<int64_t>() < min)
        return false;
      dst = i->get<int64_t>();
      return true;
    };
    int64_t reopens = 0;
    if (!integer("reopens", 0, reopens) || reopens > UINT32_MAX)
      return bad("bad reopens");
    ds.reopens = static_cast<uint32_t>(reopens);
    if (!integer("open_until_ms", 0, ds.open_until_ms))
      return bad("bad open_until_ms");
    if (ds.breaker == breaker_state::open && ds.open_until_ms == 0)
      return bad("open breaker without open_until_ms");
    if (!integer("down_until_ms", -1, ds.down_until_ms))
      return bad("bad down_until_ms");
    if (ds.down_until_ms != 0) {
      auto cls = d.find("down_class");
      auto parsed = cls != d.end() && cls->is_string()
                        ? parse_error_class(cls->get_ref<const std::string&>())
                        : std::nullopt;
      if (!parsed)
        return bad("bad down_class");
      ds.down_class = *parsed;
    }
    out.deployments.push_back(std::move(ds));
  }
  return out;
}

std::optional<std::string> write_file_atomically(const std::string& path,
                                                 std::string_view text) {
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return "cannot create " + tmp + ": " + errno_text();
  auto fail = [&](const char* what) {
    auto msg = std::string{what} + " " + tmp + ": " + errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return msg;
  };
  for (size_t done = 0; done < text.size();) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0)
    return fail("cannot sync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return "cannot close " + tmp + ": " + errno_text();
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto msg = "cannot rename " + tmp + " to " + path + ": " + errno_text();
    ::unlink(tmp.c_str());
    return msg;
  }
  // The rename itself is durable once the directory is synced.
  auto slash = path.rfind('/');
  auto dir = slash == std::string::npos ? std::string{"."}
                                        : path.substr(0, slash + 1);
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return std::nullopt;
}

} // namespace switchyard
