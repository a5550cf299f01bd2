// parse_command_line: one CLI11 app with a subcommand per command; each
// command's flags live in cli/<command>_flags.cpp.
#include "cli/cli.hpp"

#include "base/version.hpp"
#include "cli/flags.hpp"

namespace tcpfsm {

Result<ParsedArgs> parse_command_line(const std::vector<std::string>& args) {
  CLI::App app{"tcpfsm: watch every TCP state change on this host as it happens (eBPF).", "tcpfsm"};
  app.set_version_flag("-V,--version", std::string("tcpfsm ") + kVersion);
  app.require_subcommand(0, 1);
  app.footer(
      "Without a command, tcpfsm runs 'stats --interval 1'.\n"
      "Needs root (or CAP_BPF and CAP_PERFMON) and a kernel >= 5.8 with BTF.\n"
      "A DURATION is seconds (10, 0.5) or a number with units, as systemd and Prometheus write them: 500ms,\n"
      "30s, 5m, 1h30m (us, ms, s, m, h, d).\n"
      "Run 'tcpfsm COMMAND --help' for the flags of a command.");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug output, including libbpf's log");
  flags::TraceFlags trace;
  flags::LifeFlags life;
  flags::StatsFlags stats;
  flags::LeaksFlags leaks;
  flags::ServeFlags serve;
  flags::DoctorFlags doctor;
  CLI::App* tcmd = trace.add(app);
  CLI::App* fcmd = life.add(app);
  stats.add(app);
  CLI::App* lcmd = leaks.add(app);
  CLI::App* vcmd = serve.add(app);
  CLI::App* dcmd = doctor.add(app);

  // CLI11 wants the arguments last first.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return ParsedArgs{std::nullopt, app.exit(e)};
  } catch (const CLI::CallForAllHelp& e) {
    return ParsedArgs{std::nullopt, app.exit(e)};
  } catch (const CLI::CallForVersion& e) {
    return ParsedArgs{std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    return Error::usage(std::string(e.what()) + "; run 'tcpfsm --help'");
  }

  CommandLine cl;
  cl.verbose = verbose;
  // Each branch moves one command's options into cl; the rest keep defaults.
  auto take = [&](Command c, auto&& finish, auto& dst) -> Result<ParsedArgs> {
    auto o = finish();
    if (!o) return o.error();
    cl.command = c;
    dst = std::move(o.value());
    return ParsedArgs{std::move(cl), 0};
  };
  if (tcmd->parsed())
    return take(
        Command::Trace, [&] { return trace.finish(); }, cl.trace);
  if (fcmd->parsed())
    return take(
        Command::Life, [&] { return life.finish(); }, cl.life);
  if (dcmd->parsed())
    return take(
        Command::Doctor, [&] { return doctor.finish(); }, cl.doctor);
  if (vcmd->parsed())
    return take(
        Command::Serve, [&] { return serve.finish(); }, cl.serve);
  if (lcmd->parsed())
    return take(
        Command::Leaks, [&] { return leaks.finish(); }, cl.leaks);
  return take(
      Command::Stats, [&] { return stats.finish(); }, cl.stats);  // also without a subcommand
}

}  // namespace tcpfsm
