// Splitting text into lines and whitespace-separated fields, without copies.
#pragma once

#include <string_view>
#include <vector>

namespace tcpfsm {

// Calls f(line) for every line of `text`, the last one with or without its
// newline; a trailing newline adds no empty line.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    f(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

// The lines of `text`, as for_each_line visits them.
std::vector<std::string_view> split_lines(std::string_view text);

// The fields of `line` separated by blanks and tabs.
std::vector<std::string_view> split_fields(std::string_view line);

}  // namespace tcpfsm
