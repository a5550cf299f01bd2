// A sysctl recipe as users paste it (`doctor --recipe FILE`): sysctl.conf
// lines, and also what blog posts make of them (several settings run
// together on one line, prose after a value, "1024-65000" for a range).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tcpfsm {

struct RecipeSetting {
  size_t line = 0;      // 1-based line of the recipe it came from
  std::string setting;  // dotted, as sysctl names it: "net.ipv4.tcp_fin_timeout"
  std::string value;    // its words joined by one space: "1024 65000"; "bbr"
  // The value's numbers, when it is only numbers ("1024-65000" gives 1024, 65000).
  std::vector<int64_t> numbers;
};

struct Recipe {
  std::vector<RecipeSetting> settings;  // in the recipe's order, repeats kept (the last one wins in sysctl)
  size_t lines = 0;                     // lines read
  size_t skipped = 0;  // lines that were neither blank, comment nor a setting (prose, commands)
};

// Never fails: what is not a setting is counted in `skipped`. A setting is
// a dotted (or slash-separated) name of lowercase words, '=', and a value of
// numbers (to the next setting or the first word that is not one) or one
// word; "#" and ";" start comments, as in sysctl.conf.
Recipe parse_recipe(std::string_view text);

}  // namespace tcpfsm
