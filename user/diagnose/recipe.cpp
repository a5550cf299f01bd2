// The recipe parser (see recipe.hpp).
#include "diagnose/recipe.hpp"

#include <algorithm>
#include <optional>

#include "base/lines.hpp"
#include "base/parse.hpp"

namespace tcpfsm {
namespace {

bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

// "net.ipv4.tcp_fin_timeout" or "net/ipv4/tcp_fin_timeout": two parts at
// least, each of lowercase letters, digits, '_' or '-', the first a letter.
std::optional<std::string> setting_name(std::string_view w) {
  if (w.empty() || !(w[0] >= 'a' && w[0] <= 'z')) return std::nullopt;
  std::string out;
  size_t parts = 1;
  char prev = 0;
  for (char c : w) {
    if (c == '.' || c == '/') {
      if (prev == '.' || prev == 0) return std::nullopt;
      ++parts;
      out += '.';
      prev = '.';
      continue;
    }
    if (!name_char(c)) return std::nullopt;
    out += c;
    prev = c;
  }
  if (parts < 2 || prev == '.') return std::nullopt;
  return out;
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// The line as words, with every '=' a word of its own ("a=1" -> a = 1).
std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    if (blank(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == '=') {
      out.push_back(line.substr(i, 1));
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < line.size() && !blank(line[i]) && line[i] != '=') ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

// "1024", "-1", or a range "1024-65000" (two numbers).
std::optional<std::vector<int64_t>> numbers_of(std::string_view w) {
  if (auto n = parse_number<int64_t>(w)) return std::vector<int64_t>{*n};
  const size_t dash = w.find('-', 1);
  if (dash == std::string_view::npos) return std::nullopt;
  auto lo = parse_number<int64_t>(w.substr(0, dash)), hi = parse_number<int64_t>(w.substr(dash + 1));
  if (!lo || !hi) return std::nullopt;
  return std::vector<int64_t>{*lo, *hi};
}

// The digits a word starts with, when what follows them is not ASCII
// (prose in another script run into the value); empty otherwise.
std::string_view leading_number(std::string_view w) {
  size_t n = 0;
  while (n < w.size() && w[n] >= '0' && w[n] <= '9') ++n;
  if (n == 0 || n == w.size() || static_cast<unsigned char>(w[n]) < 0x80) return {};
  return w.substr(0, n);
}

// A value's one word that is not a number: ASCII letters, digits and "_-.,".
bool plain_word(std::string_view w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ',';
  });
}

}  // namespace

Recipe parse_recipe(std::string_view text) {
  Recipe r;
  for (std::string_view line : split_lines(text)) {
    ++r.lines;
    if (const size_t c = line.find_first_of("#;"); c != std::string_view::npos) line = line.substr(0, c);
    const auto w = words(line);
    if (w.empty()) continue;
    size_t found = 0;
    // "sysctl -w net.x=1" too: the words before a name are not looked at.
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (w[i + 1] != "=") continue;
      auto name = setting_name(w[i]);
      if (!name) continue;
      RecipeSetting s;
      s.line = r.lines;
      s.setting = *name;
      size_t j = i + 2;
      std::vector<std::string_view> value;
      for (; j < w.size(); ++j) {
        if (j + 1 < w.size() && w[j + 1] == "=" && setting_name(w[j])) break;  // the next setting
        auto n = numbers_of(w[j]);
        if (!n) {
          // "30修改系統默认的": a number run into prose (the posts' own line).
          const std::string_view lead = leading_number(w[j]);
          if (auto m = parse_number<int64_t>(lead); m && lead.size() < w[j].size()) {
            value.push_back(lead);
            s.numbers.push_back(*m);
            ++j;
          }
          break;
        }
        value.push_back(w[j]);
        s.numbers.insert(s.numbers.end(), n->begin(), n->end());
      }
      if (value.empty() && j < w.size() && plain_word(w[j]) &&
          !(j + 1 < w.size() && w[j + 1] == "=")) {  // one word: "bbr", "fq_codel"
        value.push_back(w[j]);
        s.numbers.clear();
      }
      if (value.empty()) continue;  // "name =" and nothing usable: not a setting
      for (auto v : value) {
        if (!s.value.empty()) s.value += ' ';
        s.value += v;
      }
      r.settings.push_back(std::move(s));
      ++found;
      i = j > i ? j - 1 : i;  // the loop's ++i lands on the word after the value
    }
    if (!found) ++r.skipped;
  }
  return r;
}

}  // namespace tcpfsm
