#include "input.hpp"
#include "runner.hpp"

#include <iostream>
#include <map>

namespace switchyard::batch {

int dry_run(const run_options& opts, const engine_config& cfg) {
  line_source in;
  if (auto ok = in.open(opts.input); !ok) {
    std::cerr << "switchyard-batch: " << ok.error() << '\n';
    return exit_usage;
  }
  line_rules rules;
  rules.route_override = opts.route;
  for (const auto& [name, r] : cfg.routes)
    rules.routes.push_back(name);
  rules.default_route = cfg.default_route;
  custom_id_set ids;
  std::map<std::string, uint64_t> per_route;
  std::map<std::string, uint64_t> per_problem;
  std::vector<std::string> first;
  constexpr size_t shown = 10;
  uint64_t valid = 0;
  auto note = [&](const std::string& code, const std::string& message) {
    ++per_problem[code];
    if (first.size() < shown)
      first.push_back(message);
  };
  while (auto text = in.next()) {
    if (is_blank(*text))
      continue;
    auto parsed = read_batch_line(*text, in.number(), rules);
    if (auto* p = std::get_if<line_problem>(&parsed)) {
      note(p->code, p->message);
      continue;
    }
    auto& line = std::get<batch_line>(parsed);
    if (!ids.insert(line.custom_id)) {
      note("duplicate_custom_id", "line " + std::to_string(in.number())
                                      + ": custom_id \"" + line.custom_id
                                      + "\" was used by an earlier line");
      continue;
    }
    ++valid;
    ++per_route[line.route.empty() ? cfg.default_route : line.route];
  }
  if (in.failed()) {
    std::cerr << "switchyard-batch: reading " << opts.input << " failed\n";
    return exit_usage;
  }
  uint64_t invalid = 0;
  for (const auto& [code, n] : per_problem)
    invalid += n;
  std::cout << "config " << opts.config << ": OK (" << cfg.deployments.size()
            << " deployments, " << cfg.routes.size() << " routes)\n"
            << "lines: " << valid + invalid << " (" << valid << " valid, "
            << invalid << " invalid)\n";
  for (const auto& [route, n] : per_route)
    std::cout << "  route " << route << ": " << n << '\n';
  for (const auto& [code, n] : per_problem)
    std::cout << "  " << code << ": " << n << '\n';
  if (!first.empty()) {
    std::cout << "first problems:\n";
    for (const auto& m : first)
      std::cout << "  " << m << '\n';
  }
  std::cout << "dry run: nothing was sent\n";
  return invalid == 0 ? exit_all_answered : exit_some_failed;
}

} // namespace switchyard::batch
