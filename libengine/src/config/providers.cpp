#include "keys.hpp"
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

/// The keys of a provider read alike for every kind (`kind` and `base_url`
/// are read first, by hand: the kind decides the defaults).
const section_keys<provider_entry>& provider_keys() {
  using E = provider_entry;
  using P = provider_config;
  static const section_keys<E> keys{
      {"api_key", in(&E::cfg, string_key(&P::api_key))},
      {"api_version", in(&E::cfg, string_key(&P::api_version))},
      {"auth",
       [](reader& rd, const json& v, const std::string& p, E& out) {
         out.explicit_auth = rd.enumeration(v, p, "auth", auth_names());
         return out.explicit_auth.has_value();
       }},
      {"auth_header",
       [](reader& rd, const json& v, const std::string& p, E& out) {
         auto s = rd.string(v, p);
         if (!s)
           return false;
         if (s->empty())
           rd.error(p, "expected a header name, got \"\"");
         out.cfg.auth_header = std::move(*s);
         return true;
       }},
      {"headers",
       [](reader& rd, const json& v, const std::string& p, E& out) {
         if (!rd.any_object(v, p))
           return false;
         for (auto& [key, value] : v.items())
           if (auto s = rd.string(value, child(p, key)))
             out.cfg.headers.push_back(header{key, std::move(*s)});
         return true;
       }},
      {"default_max_tokens",
       in(&E::cfg, integer_key(&P::default_max_tokens, 1, 10'000'000))},
      {"timeouts", in(&E::cfg, object_key(&P::timeouts, apply_timeouts))},
      {"continuation",
       in(&E::cfg, enum_key(&P::continuation, "continuation style",
                            continuation_names()))},
  };
  return keys;
}

/// The keys of a deployment that need no provider (`provider`, `model`,
/// `deployment` and `breaker` are read by hand).
const section_keys<deployment_config>& deployment_keys() {
  using D = deployment_config;
  static const section_keys<D> keys{
      {"api_key", in(&D::ep, string_key(&endpoint::api_key))},
      {"weight", number_key(&D::weight, 0, 1e6)},
      {"priority", integer_key(&D::priority, -1'000'000, 1'000'000)},
      {"cost_per_1k_input", number_key(&D::cost_per_1k_input, 0,
                                       std::numeric_limits<double>::max())},
      {"cost_per_1k_output", number_key(&D::cost_per_1k_output, 0,
                                        std::numeric_limits<double>::max())},
      {"context_window", integer_key(&D::context_window, 0, 100'000'000)},
      {"limits", object_key(&D::limits, apply_limits)},
      {"timeouts", object_key(&D::timeouts, apply_timeouts)},
  };
  return keys;
}

} // namespace

void config_parser::parse_provider(const std::string& name, const json& obj) {
  auto path = child("providers", name);
  auto& entry = providers_[name];
  entry.cfg.name = name;
  auto at = [&](std::string_view key) { return child(path, key); };
  if (!rd_.object(obj, path, names_of(provider_keys(), {"kind", "base_url"}))) {
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
  auto& kind_defaults = defaults_of(p.kind);
  p.base_url = kind_defaults.base_url;
  p.api_version = kind_defaults.api_version;
  p.auth_header = kind_defaults.auth_header;
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
  read_keys(rd_, obj, path, provider_keys(), entry);
  if (entry.explicit_auth == auth_style::header && p.auth_header.empty())
    rd_.error(at("auth_header"),
              "missing required key (auth \"header\" needs a header name)");
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
                  names_of(deployment_keys(),
                           {"provider", "model", "deployment", "breaker"})))
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
  read_keys(rd_, obj, path, deployment_keys(), d);
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
