#include "switchyard/policy/settings.hpp"

namespace switchyard {

retry_settings default_retry_settings() {
  retry_settings r;
  auto retries = [&r](error_class c, uint32_t n) {
    r.max_retries[static_cast<size_t>(c)] = n;
  };
  retries(error_class::rate_limited, 2);
  retries(error_class::server_error, 2);
  retries(error_class::timeout, 1);
  retries(error_class::malformed, 1);
  r.fall_back_on = {error_class::rate_limited,   error_class::quota_exhausted,
                    error_class::overloaded,     error_class::server_error,
                    error_class::timeout,        error_class::connection,
                    error_class::auth,           error_class::context_length,
                    error_class::content_filter, error_class::malformed};
  return r;
}

} // namespace switchyard
