#pragma once

// Headless Chromium for the tests of HTML pages (the load report, the
// gateway's dashboard): a page reports itself in the attributes of its
// `<div id="status" ...>` (data-errors collects script errors), which the
// tests read from the dumped DOM.

#include <string>
#include <vector>

namespace switchyard::test {

/// Headless Chromium's command line with what it needs to run as root in a
/// container, plus `args`; `virtual_time_ms` lets the page's timers run
/// that long (virtual time).
std::vector<std::string> chromium(std::vector<std::string> args,
                                  int virtual_time_ms = 5000);

/// True when /usr/bin/chromium can be run.
bool have_chromium();

/// Runs a program to its end (at most 60 s) and returns its stdout; fails
/// the test when it does not end.
std::string run_to_end(std::vector<std::string> argv);

/// The value of attribute `name` in the first `<div id="status" ...>` of a
/// dumped DOM (a `<no ...>` text when absent).
std::string status_attr(const std::string& dom, const std::string& name);

} // namespace switchyard::test
