// The top-level `log` section: the structured event log's settings.
#include "keys.hpp"
#include "sections.hpp"

namespace switchyard::config_detail {

namespace {

const name_table<log_level>& level_names() {
  static const name_table<log_level> table{
      {"debug", log_level::debug},
      {"info", log_level::info},
      {"warn", log_level::warn},
      {"error", log_level::error},
  };
  return table;
}

const section_keys<log_settings>& log_keys() {
  using S = log_settings;
  static const section_keys<S> keys{
      {"level", enum_key(&S::level, "log level", level_names())},
      {"file", string_key(&S::file)},
      {"max_size", integer_key(&S::max_size, 4096)},
      {"max_files", integer_key(&S::max_files, 0, 1000)},
      {"queue_size", integer_key(&S::queue_size, 16, 1 << 22)},
  };
  return keys;
}

} // namespace

void apply_log(reader& rd, const json& obj, const std::string& path,
               log_settings& out) {
  out.enabled = read_section(rd, obj, path, log_keys(), out).object;
}

} // namespace switchyard::config_detail
