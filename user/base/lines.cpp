// Line and field splitting (see lines.hpp).
#include "base/lines.hpp"

namespace tcpfsm {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  for_each_line(text, [&](std::string_view line) { out.push_back(line); });
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace tcpfsm
