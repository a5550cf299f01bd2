#!/usr/bin/env bash
# ./scripts/bench.sh [--runs N] [--duration S] [--rate R] [--modes "..."] [--no-bpf-pass] [--smoke]
#                    [--baseline BUILD_DIR]
#
# tcpfsm side by side with no tracer and with libbpf-tools' tcpstates, on a
# loopback short-connection load (build/tcpfsm_loadgen), interleaved and
# repeated; medians with min-max. Each run gets a fresh network namespace
# (no TIME_WAIT carried over), and tcpfsm is filtered to it in the kernel.
#
#   pass 1, closed loop: connections/s (and its ratio to no tracer), events
#           delivered vs the 10 transitions per connection the load made,
#           losses by reason, tracer CPU seconds per million events, peak RSS;
#   pass 1b, the same with a nice-19 busy loop on every CPU: on a virtual
#           machine an idle vCPU is slow to wake, so a tracer whose consumer
#           keeps a vCPU busy speeds the load up; with every CPU kept busy
#           the ratio shows the tracer's cost alone;
#   pass 2, open loop at --rate: system-wide CPU (softirq included) at equal work;
#   pass 3, closed loop with kernel.bpf_stats_enabled=1: BPF ns per program run
#           (apart, because the stats cost time themselves); then `floor` and
#           `stats` under a load whose connections end in RST (no timewait
#           sockets): the timer programs' ns per run, each an unrelated timer.
#
# Modes: none, floor (build/tcpfsm_floor: empty programs at tcpfsm's attach
# points, the cost of being attached at all), stats (counts in the kernel),
# stats-records (stats --records: a ring buffer record per transition, counted
# in userspace), stats-by-raddr and stats-by-pod (stats --by, a report every
# second), trace, serve, tcpstates; with --baseline BUILD_DIR also `baseline`:
# `stats` of another tcpfsm build (say, the previous commit's), in the same run.
# The RST pass also gives the reset programs' ns per run (they fire there).
#
# --smoke: one short run of everything, to keep the script working (CI).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=5
DURATION=5
RATE=20000
MODES="none floor stats stats-records trace serve tcpstates"
BPF_PASS=1
BASELINE=""
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --rate) RATE=${2:?}; shift 2 ;;
    --modes) MODES=${2:?}; shift 2 ;;
    --no-bpf-pass) BPF_PASS=0; shift ;;
    --baseline) BASELINE=${2:?}; shift 2 ;;
    --smoke) RUNS=1; DURATION=1; RATE=2000; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
case "$RUNS$DURATION$RATE" in *[!0-9.]*) echo "bench.sh: --runs, --duration and --rate take numbers" >&2; exit 2 ;; esac

if [ -n "$BASELINE" ]; then
  [ -x "$BASELINE/tcpfsm" ] || { echo "bench.sh: --baseline $BASELINE has no tcpfsm binary: give the build directory of another tcpfsm" >&2; exit 2; }
  [[ " $MODES " == *" baseline "* ]] || MODES="$MODES baseline"
fi
need_root "scripts/bench.sh"
install_missing "${TCPFSM_PACKAGES[@]}"
build >&2
B=$TCPFSM_BUILD
TCPSTATES=$(command -v tcpstates || echo /usr/sbin/tcpstates)
[ -x "$TCPSTATES" ] || die "tcpstates not found (Debian package libbpf-tools)"
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true

WORK=$(mktemp -d /tmp/tcpfsm-bench.XXXXXX)
NS=""
TRACER=""
HELPER=""
cleanup() {
  [ -n "${SPINNERS:-}" ] && kill $SPINNERS 2>/dev/null || true
  [ -n "$HELPER" ] && kill "$HELPER" 2>/dev/null || true
  [ -n "$TRACER" ] && kill "$TRACER" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null || true
  sysctl -qw kernel.bpf_stats_enabled=0 2>/dev/null || true
  rm -rf "$WORK" /dev/shm/tcpfsm-bench-trace.json
}
trap cleanup EXIT
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
PORT=$((20000 + RANDOM % 20000))

# cpu_ticks PID: user + system ticks of a process (and its reaped children).
cpu_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# busy_ticks: all CPUs, everything but idle and iowait.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
total_ticks() { awk '/^cpu / { s = 0; for (i = 2; i <= NF; i++) s += $i; print s }' /proc/stat; }
json_num() { grep -o "\"$1\":[0-9.e+-]*" "$2" | head -n1 | cut -d: -f2; }
# BPF run time / runs of programs by name, from bpftool.
bpf_ns_per_run() {
  # No such program (another build's, say) is "-", not a failure under pipefail.
  bpftool prog show -j 2>/dev/null | tr '{' '\n' | { grep -E "\"name\":\"($1)\"" || true; } |
    awk '{ t = 0; c = 0
           if (match($0, /"run_time_ns":[0-9]+/)) t = substr($0, RSTART + 14, RLENGTH - 14)
           if (match($0, /"run_cnt":[0-9]+/)) c = substr($0, RSTART + 10, RLENGTH - 10)
           T += t; C += c }
         END { if (C > 0) printf "%.0f", T / C; else printf "-" }'
}

start_mode() {  # start_mode MODE NETNS_INODE: starts the tracer, sets TRACER
  local mode=$1 ino=$2
  TRACER=""
  HELPER=""
  case "$mode" in
    none) return 0 ;;
    floor) "$B/tcpfsm_floor" >"$WORK/out" 2>"$WORK/err" & ;;
    stats) "$B/tcpfsm" stats --json --interval 0 --netns "$ino" >"$WORK/out" 2>"$WORK/err" & ;;
    baseline)
      [ -n "$BASELINE" ] || die "mode baseline needs --baseline BUILD_DIR"
      "$BASELINE/tcpfsm" stats --json --interval 0 --netns "$ino" >"$WORK/out" 2>"$WORK/err" & ;;
    stats-records) "$B/tcpfsm" stats --records --json --interval 0 --netns "$ino" >"$WORK/out" 2>"$WORK/err" & ;;
    # Grouped: a report (and a gauge pass) every second, as a person watches it.
    stats-by-raddr) "$B/tcpfsm" stats --by raddr --json --interval 1 --netns "$ino" >"$WORK/out" 2>"$WORK/err" & ;;
    stats-by-pod) "$B/tcpfsm" stats --by pod --json --interval 1 --netns "$ino" >"$WORK/out" 2>"$WORK/err" & ;;
    trace) "$B/tcpfsm" trace --json --netns "$ino" >/dev/shm/tcpfsm-bench-trace.json 2>"$WORK/err" & ;;
    serve)
      "$B/tcpfsm" serve --listen "127.0.0.1:$PORT" --netns "$ino" >"$WORK/out" 2>"$WORK/err" &
      TRACER=$!
      for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
      (while sleep 1; do curl -sf "http://127.0.0.1:$PORT/metrics" -o "$WORK/scrape.tmp" && mv "$WORK/scrape.tmp" "$WORK/scrape"; done) &
      HELPER=$!
      return 0 ;;
    tcpstates) "$TCPSTATES" >"$WORK/out" 2>"$WORK/err" & ;;
    *) die "unknown mode '$mode' (none floor stats stats-records stats-by-raddr stats-by-pod trace serve tcpstates baseline)" ;;
  esac
  TRACER=$!
  sleep 1.5  # load and attach
  kill -0 "$TRACER" 2>/dev/null || die "$mode did not start: $(cat "$WORK/err")"
}

# run_one MODE LOAD_ARGS...: prints "mode rate delivered expected ringbuf recursion cpu_s rss_kb sys_pct bpf_ns
#   rescue_bpf_ns timer_bpf_ns reset_bpf_ns"
run_one() {
  local mode=$1; shift
  NS="tcpfsm-bench-$$"
  ip netns add "$NS"
  ip netns exec "$NS" ip link set lo up
  local ino
  ino=$(stat -L -c %i "/run/netns/$NS")
  start_mode "$mode" "$ino"
  local c0=0 b0 t0
  [ -n "$TRACER" ] && c0=$(cpu_ticks "$TRACER")
  b0=$(busy_ticks); t0=$(total_ticks)
  ip netns exec "$NS" "$B/tcpfsm_loadgen" --duration "$DURATION" --port 5201 "$@" >"$WORK/load" 2>/dev/null ||
    die "the load generator failed"
  local b1 t1 c1=0 rss=- bpf=- rescue_bpf=- timer_bpf=- reset_bpf=-
  b1=$(busy_ticks); t1=$(total_ticks)
  sleep 0.7  # let the consumer drain
  if [ -n "$TRACER" ]; then
    c1=$(cpu_ticks "$TRACER")
    rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$TRACER/status")
    case "$mode" in
      tcpstates) bpf=$(bpf_ns_per_run handle_set_state) ;;
      floor) bpf=$(bpf_ns_per_run fl_set_state)
         rescue_bpf=$(bpf_ns_per_run fl_set_state2)
         timer_bpf=$(bpf_ns_per_run 'fl_timer_start|fl_timer_cancel|fl_timer_expire') ;;
      *) bpf=$(bpf_ns_per_run on_set_state)
         rescue_bpf=$(bpf_ns_per_run on_set_state_nested)
         timer_bpf=$(bpf_ns_per_run 'on_timer_start|on_timer_cancel|on_timer_expire')
         reset_bpf=$(bpf_ns_per_run 'on_receive_reset|on_send_reset') ;;
    esac
    [ "$mode" = serve ] && curl -sf "http://127.0.0.1:$PORT/metrics" -o "$WORK/scrape" || true
    [ -n "$HELPER" ] && { kill "$HELPER" 2>/dev/null; wait "$HELPER" 2>/dev/null || true; }
    kill -INT "$TRACER"
    wait "$TRACER" 2>/dev/null || true
  fi
  TRACER=""; HELPER=""
  ip netns del "$NS"; NS=""

  local conns rate expected delivered=- ringbuf=- recursion=-
  conns=$(json_num connections "$WORK/load")
  rate=$(json_num rate "$WORK/load")
  # 10 transitions per connection, and the load generator's listening socket
  # (CLOSE>LISTEN, LISTEN>CLOSE).
  expected=$((conns * 10 + 2))
  case "$mode" in
    stats|stats-records|stats-by-*|baseline)
      tail -n1 "$WORK/out" >"$WORK/last"  # the final report
      delivered=$(grep -o '"[A-Z_0-9]*>[A-Z_0-9]*":[0-9]*' "$WORK/last" | awk -F: '{ s += $2 } END { print s + 0 }')
      ringbuf=$(json_num ringbuf "$WORK/last"); recursion=$(json_num recursion "$WORK/last") ;;
    trace)
      delivered=$(grep -c '"type":"state"' /dev/shm/tcpfsm-bench-trace.json || true)
      tail -n1 /dev/shm/tcpfsm-bench-trace.json >"$WORK/summary"
      # The capture's summary: every counter by name (model/run_counters.hpp).
      ringbuf=$(json_num ringbuf_drops "$WORK/summary")
      misses=$(json_num recursion_misses "$WORK/summary"); rescued=$(json_num rescued "$WORK/summary")
      recursion=$((misses > rescued ? misses - rescued : 0))
      rm -f /dev/shm/tcpfsm-bench-trace.json ;;
    serve)
      delivered=$(awk '/^tcpfsm_transitions_total/ { s += $2 } END { print s + 0 }' "$WORK/scrape")
      ringbuf=$(awk '/^tcpfsm_events_lost_total\{reason="ringbuf"\}/ { print $2 }' "$WORK/scrape")
      recursion=$(awk '/^tcpfsm_events_lost_total\{reason="recursion"\}/ { print $2 }' "$WORK/scrape") ;;
    tcpstates)
      # Every TCP state change on the host; its losses are not counted by the tool.
      delivered=$(($(wc -l <"$WORK/out") - 1)) ;;
  esac
  local cpu_s sys_pct
  cpu_s=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (b - a) / hz }')
  sys_pct=$(awk -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", 100 * (b1 - b0) / (t1 - t0) }')
  echo "$mode $rate $delivered $expected $ringbuf $recursion $cpu_s $rss $sys_pct $bpf $rescue_bpf $timer_bpf $reset_bpf"
}

echo "tcpfsm bench: $RUNS runs x {$MODES}, ${DURATION}s each; open loop at $RATE/s; $NCPU CPUs, $(uname -r)" >&2
: >"$WORK/closed"
: >"$WORK/open"
: >"$WORK/busy"
: >"$WORK/bpf"
: >"$WORK/unrelated"
for i in $(seq "$RUNS"); do
  for m in $MODES; do
    echo "  closed loop, run $i/$RUNS: $m" >&2
    run_one "$m" --mode closed --threads 2 >>"$WORK/closed"
  done
done
SPINNERS=""
for i in $(seq "$RUNS"); do
  for m in $MODES; do
    echo "  closed loop, CPUs kept busy, run $i/$RUNS: $m" >&2
    for _ in $(seq "$NCPU"); do nice -n 19 sh -c 'while :; do :; done' & SPINNERS="$SPINNERS $!"; done
    run_one "$m" --mode closed --threads 2 >>"$WORK/busy"
    kill $SPINNERS 2>/dev/null; wait $SPINNERS 2>/dev/null || true; SPINNERS=""
  done
done
for i in $(seq "$RUNS"); do
  for m in $MODES; do
    echo "  open loop at $RATE/s, run $i/$RUNS: $m" >&2
    run_one "$m" --mode open --rate "$RATE" --threads 2 >>"$WORK/open"
  done
done
if [ "$BPF_PASS" = 1 ]; then
  sysctl -qw kernel.bpf_stats_enabled=1
  for m in $MODES; do
    [ "$m" = none ] && continue
    echo "  BPF stats pass: $m" >&2
    run_one "$m" --mode closed --threads 2 >>"$WORK/bpf"
  done
  # The timer programs see every kernel timer. Connections that end in RST
  # leave no timewait socket, so under this load every run is a timer of
  # something else: the cost per unrelated timer, ours against empty ones.
  RST_MODES="floor stats"
  [ -n "$BASELINE" ] && RST_MODES="$RST_MODES baseline"
  for m in $RST_MODES; do
    echo "  BPF stats pass: $m, connections closed with RST" >&2
    run_one "$m" --mode closed --threads 2 --linger0 >>"$WORK/unrelated"
  done
  TIMER_NS=$(awk '$1 == "stats" { print $12 }' "$WORK/unrelated")
  RST_LINE=$(awk '{ printf "%s%s %s ns per inet_sock_set_state run", (NR > 1 ? ", " : ""), $1, $10; if ($13 != "-") printf " (reset programs %s ns per run)", $13 }' "$WORK/unrelated")
  FLOOR_TIMER_NS=$(awk '$1 == "floor" { print $12 }' "$WORK/unrelated")
  sysctl -qw kernel.bpf_stats_enabled=0
fi

# Medians per mode (fields as run_one prints them), as a Markdown table.
awk -v modes="$MODES" -v timer_ns="${TIMER_NS:--}" -v floor_timer_ns="${FLOOR_TIMER_NS:--}" -v busyf="$WORK/busy" -v openf="$WORK/open" -v bpff="$WORK/bpf" -v dur="$DURATION" -v fixed_rate="$RATE" '
function median(list,   n, a, i, j, t) {
  n = split(list, a, " ")
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  if (n == 0) return "-"
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function minmax(list,   n, a, i, lo, hi) {
  n = split(list, a, " "); lo = a[1]; hi = a[1]
  for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
  return sprintf("%.0f-%.0f", lo, hi)
}
FNR == NR {
  m = $1; rate[m] = rate[m] " " $2
  if ($3 != "-") { del[m] += $3; exp_[m] += $4 }
  if ($5 != "-") rb[m] += $5
  if ($6 != "-") rc[m] += $6
  if ($7 > 0 && $3 != "-" && $3 > 0) cpm[m] = cpm[m] " " ($7 / ($3 / 1e6))
  if ($8 != "-") rss[m] = rss[m] " " $8
  next
}
END {
  while ((getline line < openf) > 0) { split(line, f, " "); sys[f[1]] = sys[f[1]] " " f[9]; orate[f[1]] = orate[f[1]] " " f[2] }
  while ((getline line < bpff) > 0) { split(line, f, " "); bpf[f[1]] = f[10]; rbpf[f[1]] = f[11]; tbpf[f[1]] = f[12] }
  while ((getline line < busyf) > 0) { split(line, f, " "); brate[f[1]] = brate[f[1]] " " f[2] }
  base = median(rate["none"])
  bbase = median(brate["none"])
  fbase = ("floor" in rate) ? median(rate["floor"]) : 0
  fbbase = ("floor" in brate) ? median(brate["floor"]) : 0
  printf "| mode | connections/s (median, min-max) | vs no tracer | CPUs kept busy: conn/s, vs no tracer | vs floor (closed loop, busy) | delivered / expected transitions | lost (ringbuf, recursion) | tracer CPU s per M events | system CPU at %s/s | BPF ns per run | peak RSS |\n", fixed_rate
  printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
  n = split(modes, ms, " ")
  for (k = 1; k <= n; k++) {
    m = ms[k]
    r = median(rate[m])
    ratio = (base > 0) ? sprintf("%.1f%%", 100 * r / base) : "-"
    d = (exp_[m] > 0) ? sprintf("%d / %d", del[m], exp_[m]) : "-"
    if (m == "tcpstates" && exp_[m] > 0) d = sprintf("%d / %d (host-wide)", del[m], exp_[m])
    lost = (m == "none" || m == "floor") ? "-" : (m == "tcpstates" ? "not counted" : sprintf("%d, %d", rb[m], rc[m]))
    c = (cpm[m] != "") ? sprintf("%.2f", median(cpm[m])) : "-"
    s = (sys[m] != "") ? sprintf("%.1f%%", median(sys[m])) : "-"
    b = (m in bpf) ? bpf[m] : "-"
    mem = (rss[m] != "") ? sprintf("%.1f MiB", median(rss[m]) / 1024) : "-"
    br = median(brate[m])
    busy = (bbase > 0 && brate[m] != "") ? sprintf("%.0f, %.1f%%", br, 100 * br / bbase) : "-"
    vf = (fbase > 0 && fbbase > 0 && m != "none" && m != "floor") ? sprintf("%.1f%%, %.1f%%", 100 * r / fbase, 100 * br / fbbase) : "-"
    printf "| %s | %.0f (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m, r, minmax(rate[m]), ratio, busy, vf, d, lost, c, s, b, mem
  }
  printf "\nBPF ns per run under the load (pass 3): rescue program (runs on every hit, acts on the skipped ones)"
  for (k = 1; k <= n; k++) if (ms[k] in rbpf && rbpf[ms[k]] != "-") printf " %s %s,", ms[k], rbpf[ms[k]]
  printf " timer programs (every kernel timer start, cancel, expiry)"
  for (k = 1; k <= n; k++) if (ms[k] in tbpf && tbpf[ms[k]] != "-") printf " %s %s,", ms[k], tbpf[ms[k]]
  printf " and per unrelated timer (connections closed with RST, so no timewait socket): stats %s, floor (empty programs) %s.\n", timer_ns, floor_timer_ns
}' "$WORK/closed"
[ -n "${RST_LINE:-}" ] && printf "\nBPF ns per run, every connection closed by RST (both ends take the reset paths): %s.\n" "$RST_LINE"

# The cost per report of --by: 100,000 TIME_WAIT sockets in a namespace over
# 10,000 local addresses (the load generator's --addresses), then `stats`
# plain and `stats --by laddr` (the same key code as raddr) and `--by pod`,
# each reporting every second for 10 s: tracer CPU per report and peak RSS.
if [[ " $MODES " == *" stats-by-"* ]]; then
  conns=100000; addrs=10000
  case " $* " in *" --smoke "*) conns=2000; addrs=200 ;; esac
  [ "$DURATION" = 1 ] && { conns=2000; addrs=200; }
  NS="tcpfsm-bench-$$"
  ip netns add "$NS"
  ip netns exec "$NS" ip link set lo up
  ino=$(stat -L -c %i "/run/netns/$NS")
  ip netns exec "$NS" "$B/tcpfsm_loadgen" --connections "$conns" --addresses "$addrs" >/dev/null 2>&1 ||
    die "the load generator failed to make $conns connections"
  printf "\nper report, %s TIME_WAIT sockets over %s local addresses, a report every second for 10 s:\n" "$conns" "$addrs"
  for args in "stats" "stats --by laddr" "stats --by pod"; do
    # shellcheck disable=SC2086
    "$B/tcpfsm" $args --json --interval 1 --duration 10 --netns "$ino" >"$WORK/out" 2>"$WORK/err" &
    pid=$!
    sleep 2  # loaded, attached, first dumps done: from here on, one report a second
    c0=$(cpu_ticks "$pid")
    sleep 7.5
    c=$(($(cpu_ticks "$pid") - c0)); rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    wait "$pid" || die "$args failed: $(cat "$WORK/err")"
    groups=$(grep -o '"groups":\[' "$WORK/out" >/dev/null && tail -n1 "$WORK/out" | grep -o '"others":{[^}]*"groups":[0-9]*' | grep -o '[0-9]*$' || echo -)
    awk -v a="$args" -v c="$c" -v hz="$CLK_TCK" -v rss="$rss" -v g="$groups" \
      'BEGIN { printf "  %-18s CPU %.3f s over 7.5 s = %.1f ms per report; peak RSS %.1f MiB; groups past the top 20: %s\n", a, c / hz, 1000 * c / hz / 7.5, rss / 1024, g }'
  done
  ip netns del "$NS"; NS=""
fi
