// A sysctl recipe as users paste it (`doctor --recipe FILE`): sysctl.conf
// lines, and also what blog posts make of them (several settings run
// together on one line, prose after a value, "1024-65000" for a range).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diagnose/doctor.hpp"

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
  size_t skipped = 0;                   // lines that were neither blank, comment nor a setting (prose, commands)
};

// Never fails: what is not a setting is counted in `skipped`. A setting is
// a dotted (or slash-separated) name of lowercase words, '=', and a value of
// numbers (to the next setting or the first word that is not one) or one
// word; "#" and ";" start comments, as in sysctl.conf.
Recipe parse_recipe(std::string_view text);

// What a recipe's line does here. The set is small and fixed so that a
// fleet's recipes can be compared and alerted on:
//   harmful         it hurts on this host, from the evidence or by what it does
//   no effect here  this kernel ignores or refuses it (absent setting, bad value,
//                   a precondition the host or the recipe turns off)
//   unneeded here   it works, but nothing measured here needs it
//   helps here      the evidence shows the problem it solves
//   unknown setting tcpfsm has no rule for it (the kernel has it; its value is shown)
enum class Verdict { Harmful, NoEffectHere, UnneededHere, HelpsHere, UnknownSetting };
std::string_view verdict_name(Verdict v);

struct RecipeVerdict {
  RecipeSetting line;
  std::optional<std::string> current;  // this host's value; nullopt: the kernel has no such setting
  Verdict verdict = Verdict::UnknownSetting;
  std::string why;                    // what the setting really does, and why this verdict
  std::vector<std::string> evidence;  // the numbers it rests on, each with its source
};

// The sysctls to read for a recipe: its settings, and what the judges cite.
std::vector<std::string> recipe_sysctls(const Recipe& r);

// One verdict per setting of `r`, in its order, against `in` (whose
// after.sysctls holds what recipe_sysctls named, read from the host).
std::vector<RecipeVerdict> judge_recipe(const Recipe& r, const DoctorInput& in);

// 1 when a line is harmful, else 0.
int recipe_exit_status(const std::vector<RecipeVerdict>& v);

}  // namespace tcpfsm
