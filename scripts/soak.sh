#!/usr/bin/env bash
# ./scripts/soak.sh [MINUTES]   (default 10)
#
# Full loopback connection churn (build/tcpfsm_loadgen, closed loop) for
# MINUTES in a network namespace of its own, with `tcpfsm serve` filtered to
# it and scraped every second. Prints tcpfsm's peak RSS (VmHWM) after the
# first 90 s (or a third of a shorter run) and at the end of the churn (flat
# within 5%: RSS itself swings with each reconciliation's dump, while a leak
# would keep raising the peak), the range of RSS samples taken every 2 s,
# open descriptors after 30 s and at the end (equal), events and losses by
# reason (zero), failed scrapes (zero), and, once the last TIME_WAIT has
# expired, every state gauge against `ss -tan` (equal). Exit 1 if any of
# those does not hold.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MINUTES=${1:-10}
case "$MINUTES" in ''|*[!0-9.]*) echo "soak.sh: MINUTES must be a number, e.g. 10" >&2; exit 2 ;; esac
need_root "scripts/soak.sh"
install_missing "${TCPFSM_PACKAGES[@]}"
build >&2
B=$TCPFSM_BUILD

NS="tcpfsm-soak-$$"
PORT=$((20000 + RANDOM % 20000))
WORK=$(mktemp -d /tmp/tcpfsm-soak.XXXXXX)
SERVE=""
SCRAPER=""
cleanup() {
  [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null || true
  [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null || true
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
INO=$(stat -L -c %i "/run/netns/$NS")
"$B/tcpfsm" serve --listen "127.0.0.1:$PORT" --netns "$INO" --reconcile 10 2>"$WORK/serve.err" &
SERVE=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || die "tcpfsm serve did not come up: $(cat "$WORK/serve.err")"
(
  fails=0
  while sleep 1; do
    curl -sf -m 5 "http://127.0.0.1:$PORT/metrics" -o "$WORK/scrape.tmp" && mv "$WORK/scrape.tmp" "$WORK/scrape" ||
      { fails=$((fails + 1)); echo "$fails" >"$WORK/scrape.fails"; }
  done
) &
SCRAPER=$!

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVE/status"; }
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$SERVE/status"; }
fds() { ls "/proc/$SERVE/fd" | wc -l; }
metric() { awk -v m="$1" '$1 == m { print $2 }' "$WORK/scrape"; }

SECONDS_TOTAL=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 }')
echo "soak: ${MINUTES} min of churn in netns $NS, tcpfsm serve on 127.0.0.1:$PORT (pid $SERVE)" >&2
ip netns exec "$NS" "$B/tcpfsm_loadgen" --mode closed --threads 2 --duration "$SECONDS_TOTAL" >"$WORK/load" 2>/dev/null &
LOAD=$!
# RSS every 2 s: single samples catch the allocator at different points of
# its cycle (dumps every few seconds, trims after them); window peaks don't.
( t=0; while sleep 2; do t=$((t + 2)); echo "$t $(rss)"; done ) >"$WORK/rss" &
SAMPLER=$!
sleep 30
FDS0=$(fds)
EARLY=$(awk -v s="$SECONDS_TOTAL" 'BEGIN { e = s / 3; if (e > 90) e = 90; if (e < 30) e = 30; printf "%d", e }')
sleep $((EARLY - 30))
RSS0=$(hwm)
wait "$LOAD" || die "the load generator failed"
FDS1=$(fds); RSS1=$(hwm)
kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
RSS_RANGE=$(awk 'NR == 1 || $2 < lo { lo = $2 } $2 > hi { hi = $2 } END { printf "%d-%d", lo, hi }' "$WORK/rss")
echo "soak: churn done; waiting 65 s for the last TIME_WAIT to expire" >&2
sleep 65
curl -sf "http://127.0.0.1:$PORT/metrics" -o "$WORK/scrape" || die "final scrape failed"
ip netns exec "$NS" ss -tan >"$WORK/ss"

fail=0
conns=$(grep -o '"connections":[0-9]*' "$WORK/load" | cut -d: -f2)
rate=$(grep -o '"rate":[0-9.]*' "$WORK/load" | cut -d: -f2)
events=$(metric tcpfsm_events_total)
lost_rb=$(metric 'tcpfsm_events_lost_total{reason="ringbuf"}')
lost_rc=$(metric 'tcpfsm_events_lost_total{reason="recursion"}')
lost_uc=$(metric 'tcpfsm_events_lost_total{reason="uncounted"}')
timer_misses=$(metric tcpfsm_timer_recursion_misses_total)
scrape_fails=$(cat "$WORK/scrape.fails" 2>/dev/null || echo 0)
growth=$(awk -v a="$RSS0" -v b="$RSS1" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')
echo "connections:   $conns ($rate/s)"
echo "events:        $events"
echo "lost:          ringbuf $lost_rb, recursion $lost_rc, uncounted $lost_uc (timer programs skipped by the kernel: $timer_misses)"
echo "failed scrapes: $scrape_fails"
echo "RSS:           peak ${RSS0} KiB after ${EARLY} s, ${RSS1} KiB at the end (${growth}%); samples ${RSS_RANGE} KiB"
echo "open fds:      $FDS0 after 30 s, $FDS1 at the end"
[ "$lost_rb" = 0 ] && [ "$lost_rc" = 0 ] && [ "$lost_uc" = 0 ] || { echo "FAIL: events were lost"; fail=1; }
[ "$scrape_fails" = 0 ] || { echo "FAIL: scrapes failed"; fail=1; }
[ "$FDS0" = "$FDS1" ] || { echo "FAIL: open descriptors changed"; fail=1; }
awk -v g="$growth" 'BEGIN { exit !(g <= 5 && g >= -5) }' || { echo "FAIL: peak RSS grew more than 5%"; fail=1; }
echo "gauges against ss -tan:"
for st in ESTAB:established SYN-SENT:syn_sent SYN-RECV:syn_recv FIN-WAIT-1:fin_wait1 FIN-WAIT-2:fin_wait2 \
          TIME-WAIT:time_wait CLOSE-WAIT:close_wait LAST-ACK:last_ack LISTEN:listen CLOSING:closing; do
  ss_name=${st%%:*}; label=${st##*:}
  want=$(awk -v s="$ss_name" 'NR > 1 && $1 == s { n++ } END { print n + 0 }' "$WORK/ss")
  got=$(metric "node_tcp_connection_states{state=\"$label\"}")
  printf '  %-12s tcpfsm %-8s ss %s\n' "$label" "$got" "$want"
  [ "$got" = "$want" ] || { echo "FAIL: $label differs"; fail=1; }
done
[ "$fail" = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit "$fail"
