#include "parser.hpp"
#include "sections.hpp"

#include <limits>

namespace switchyard::config_detail {

namespace {

// -- provider kinds -----------------------------------------------------------

constexpr provider_kind all_provider_kinds[] = {
    provider_kind::openai_chat,
    provider_kind::anthropic_messages,
    provider_kind::gemini,
    provider_kind::azure_openai,
    provider_kind::openai_compatible,
    provider_kind::openai_completions,
};

const name_table<continuation_style>& continuation_names() {
  static const name_table<continuation_style> table{
      {to_string(continuation_style::prefill), continuation_style::prefill},
      {to_string(continuation_style::instruction),
       continuation_style::instruction},
  };
  return table;
}

const name_table<auth_style>& auth_names() {
  static const name_table<auth_style> table{
      {"bearer", auth_style::bearer},
      {"header", auth_style::header},
      {"none", auth_style::none},
  };
  return table;
}

} // namespace

void config_parser::parse_provider(const std::string& name, const json& obj) {
  auto path = child("providers", name);
  auto& entry = providers_[name];
  entry.cfg.name = name;
  auto at = [&](std::string_view key) { return child(path, key); };
  if (!rd_.object(obj, path,
                  {"kind", "base_url", "api_key", "api_version", "auth",
                   "auth_header", "headers", "default_max_tokens", "timeouts",
                   "continuation"})) {
    entry.ok = false;
    return;
  }
  auto errors_before = rd_.error_count();
  auto& p = entry.cfg;
  if (auto k = member(obj, "kind"); k == nullptr) {
    rd_.error(at("kind"), "missing required key");
  } else if (auto str = rd_.string(*k, at("kind"))) {
    if (auto kind = parse_provider_kind(*str)) {
      p.kind = *kind;
    } else {
      std::vector<std::string_view> names;
      for (auto x : all_provider_kinds)
        names.push_back(to_string(x));
      rd_.error(at("kind"), unknown_name("provider kind", *str, names));
    }
  }
  if (rd_.error_count() != errors_before) {
    entry.ok = false;
    return; // the rest depends on the kind
  }
  p.base_url = defaults_of(p.kind).base_url;
  if (auto u = member(obj, "base_url")) {
    if (auto str = rd_.string(*u, at("base_url"))) {
      if (str->rfind("http://", 0) != 0 && str->rfind("https://", 0) != 0)
        rd_.error(at("base_url"),
                  "expected a URL starting with http:// or https://, got \""
                      + *str + "\"");
      while (!str->empty() && str->back() == '/')
        str->pop_back();
      p.base_url = std::move(*str);
    }
  } else if (p.base_url.empty()) {
    rd_.error(at("base_url"), "missing required key (kind \""
                                  + std::string{to_string(p.kind)}
                                  + "\" has no default address)");
  }
  with(obj, "api_key", [&](const json& v) {
    if (auto s = rd_.string(v, at("api_key")))
      p.api_key = std::move(*s);
  });
  p.api_version = defaults_of(p.kind).api_version;
  with(obj, "api_version", [&](const json& v) {
    if (auto s = rd_.string(v, at("api_version")))
      p.api_version = std::move(*s);
  });
  with(obj, "auth", [&](const json& v) {
    entry.explicit_auth = rd_.enumeration(v, at("auth"), "auth", auth_names());
  });
  p.auth_header = defaults_of(p.kind).auth_header;
  with(obj, "auth_header", [&](const json& v) {
    if (auto s = rd_.string(v, at("auth_header"))) {
      if (s->empty())
        rd_.error(at("auth_header"), "expected a header name, got \"\"");
      p.auth_header = std::move(*s);
    }
  });
  if (entry.explicit_auth == auth_style::header && p.auth_header.empty())
    rd_.error(at("auth_header"),
              "missing required key (auth \"header\" needs a header name)");
  with(obj, "headers", [&](const json& v) {
    auto hp = at("headers");
    if (!rd_.any_object(v, hp))
      return;
    for (auto& [key, value] : v.items())
      if (auto s = rd_.string(value, child(hp, key)))
        p.headers.push_back(header{key, std::move(*s)});
  });
  with(obj, "default_max_tokens", [&](const json& v) {
    if (auto n = rd_.integer(v, at("default_max_tokens"), 1, 10'000'000))
      p.default_max_tokens = *n;
  });
  with(obj, "timeouts", [&](const json& v) {
    apply_timeouts(rd_, v, at("timeouts"), p.timeouts);
  });
  with(obj, "continuation", [&](const json& v) {
    p.continuation = rd_.enumeration(
        v, at("continuation"), "continuation style", continuation_names());
  });
  entry.ok = rd_.error_count() == errors_before;
  if (!entry.ok)
    return;
  // The provider's own view of auth; deployments with a key of their own
  // resolve it again.
  if (entry.explicit_auth)
    p.auth = *entry.explicit_auth;
  else if (p.api_key.empty())
    p.auth = auth_style::none;
  else
    p.auth = p.auth_header.empty() ? auth_style::bearer : auth_style::header;
  cfg.providers.emplace(name, p);
}

void config_parser::parse_deployment(const std::string& name, const json& obj) {
  auto path = child("deployments", name);
  auto at = [&](std::string_view key) { return child(path, key); };
  if (!rd_.object(obj, path,
                  {"provider", "model", "api_key", "deployment", "weight",
                   "priority", "cost_per_1k_input", "cost_per_1k_output",
                   "context_window", "limits", "breaker", "timeouts"}))
    return;
  auto errors_before = rd_.error_count();
  const provider_entry* prov = nullptr;
  if (auto pv = member(obj, "provider"); pv == nullptr) {
    rd_.error(at("provider"), "missing required key");
  } else if (auto pname = rd_.string(*pv, at("provider"))) {
    if (auto i = providers_.find(*pname); i != providers_.end()) {
      prov = &i->second;
    } else {
      std::vector<std::string_view> known;
      for (auto& [k, _] : providers_)
        known.push_back(k);
      rd_.error(at("provider"), unknown_name("provider", *pname, known));
    }
  }
  deployment_config d;
  d.name = name;
  d.limits = cfg.defaults.limits;
  auto& ep = d.ep;
  if (prov != nullptr) {
    d.provider = prov->cfg.name;
    d.timeouts = prov->cfg.timeouts;
    ep.kind = prov->cfg.kind;
    ep.base_url = prov->cfg.base_url;
    ep.api_key = prov->cfg.api_key;
    ep.api_version = prov->cfg.api_version;
    ep.auth_header = prov->cfg.auth_header;
    ep.extra_headers = prov->cfg.headers;
    ep.default_max_tokens = prov->cfg.default_max_tokens;
    d.continuation
        = prov->cfg.continuation.value_or(default_continuation(prov->cfg.kind));
  }
  bool azure = prov != nullptr && ep.kind == provider_kind::azure_openai;
  if (auto m = member(obj, "model")) {
    if (auto s = rd_.string(*m, at("model")))
      ep.model = std::move(*s);
  } else if (prov != nullptr && !azure) {
    rd_.error(at("model"), "missing required key");
  }
  if (auto dep = member(obj, "deployment")) {
    if (prov != nullptr && !azure)
      rd_.error(at("deployment"),
                "only azure_openai providers take a deployment name");
    else if (auto s = rd_.string(*dep, at("deployment")))
      ep.deployment = std::move(*s);
  } else if (azure) {
    rd_.error(at("deployment"),
              "missing required key (the Azure deployment name)");
  }
  with(obj, "api_key", [&](const json& v) {
    if (auto s = rd_.string(v, at("api_key")))
      ep.api_key = std::move(*s);
  });
  with(obj, "weight", [&](const json& v) {
    if (auto w = rd_.number(v, at("weight"), 0, 1e6))
      d.weight = *w;
  });
  with(obj, "priority", [&](const json& v) {
    if (auto n = rd_.integer(v, at("priority"), -1'000'000, 1'000'000))
      d.priority = static_cast<int32_t>(*n);
  });
  for (auto [key, field] :
       {std::pair{"cost_per_1k_input", &d.cost_per_1k_input},
        std::pair{"cost_per_1k_output", &d.cost_per_1k_output}}) {
    with(obj, key, [&, f = field, k = key](const json& v) {
      if (auto c = rd_.number(v, at(k), 0, std::numeric_limits<double>::max()))
        *f = *c;
    });
  }
  with(obj, "context_window", [&](const json& v) {
    if (auto n = rd_.integer(v, at("context_window"), 0, 100'000'000))
      d.context_window = *n;
  });
  with(obj, "limits",
       [&](const json& v) { apply_limits(rd_, v, at("limits"), d.limits); });
  with(obj, "timeouts", [&](const json& v) {
    apply_timeouts(rd_, v, at("timeouts"), d.timeouts);
  });
  if (auto b = member(obj, "breaker"); b && !rd_.any_object(*b, at("breaker")))
    return;
  if (prov == nullptr || !prov->ok || rd_.error_count() != errors_before)
    return;
  // Without an explicit auth style, a key means the kind's usual style.
  if (prov->explicit_auth)
    ep.auth = *prov->explicit_auth;
  else if (ep.api_key.empty())
    ep.auth = auth_style::none;
  else
    ep.auth = ep.auth_header.empty() ? auth_style::bearer : auth_style::header;
  if (ep.auth != auth_style::none && ep.api_key.empty()) {
    rd_.error(
        at("api_key"),
        "missing: provider \"" + d.provider + "\" uses auth \""
            + std::string{ep.auth == auth_style::bearer ? "bearer" : "header"}
            + "\" but neither this deployment nor "
            + child("providers", d.provider) + " sets an api_key");
    return;
  }
  deployments_[name] = deployment_entry{member(obj, "breaker"), path};
  cfg.deployments.emplace(name, std::move(d));
}

} // namespace switchyard::config_detail
