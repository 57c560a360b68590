#!/usr/bin/env bash
# The regate client scenario through psql (libpq, simple Query protocol; \bind for real parameters on psql >= 16).
#
#   sidecar/test/clients/psql/psql_client.sh postgres://agent:token@127.0.0.1:PORT/regate_test?sslmode=disable
#
# Inputs as for every client script (see ../README.md): the URL as $1 or REGATE_URL, EXPECT_NAMES (a JSON list of
# plain strings), DENY_SQL. One JSON line per step on stdout; exit status 1 when any step failed.
#
# One psql session runs every step: after each statement the script echoes a marker with :SQLSTATE, so the
# output of each step can be told apart. Meta-commands (\d ...) set no SQLSTATE: their output is checked for
# what it must list, and stderr must hold exactly the errors the scenario expects (with \set VERBOSITY verbose
# psql prints them as "ERROR:  42501: ...").
set -uo pipefail

URL="${1:-${REGATE_URL:-}}"
if [[ -z "$URL" ]]; then
  echo "usage: $0 URL (or set REGATE_URL)" >&2
  exit 2
fi
DENY_SQL="${DENY_SQL:-DELETE FROM public.orders}"
PSQL="${PSQL:-psql}"

SELECT_3="SELECT id, full_name FROM public.customers ORDER BY id LIMIT 3"
SELECT_BY_ID="SELECT id, full_name FROM public.customers WHERE id"

failed=0

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# report STEP OK(true|false) [KEY JSON-VALUE]...
report() {
  local step=$1 ok=$2 line
  shift 2
  [[ "$ok" == true ]] || failed=$((failed + 1))
  line="{\"client\":\"psql\",\"step\":$(json_str "$step"),\"ok\":$ok"
  while (($# >= 2)); do
    line+=",$(json_str "$1"):$2"
    shift 2
  done
  printf '%s}\n' "$line"
}

# Expected names for ids 1..3 from EXPECT_NAMES, e.g. ["Ada Abara","Chen Holm","Mei Rossi"] (no escaped quotes).
expect_names=()
if [[ -n "${EXPECT_NAMES:-}" ]]; then
  names=$(printf '%s' "$EXPECT_NAMES" | sed -E 's/^[[:space:]]*\[[[:space:]]*"//; s/"[[:space:]]*\][[:space:]]*$//; s/"[[:space:]]*,[[:space:]]*"/\n/g')
  mapfile -t expect_names <<<"$names"
fi

psql_major=$("$PSQL" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')

# --- the steps: NAME, WHAT IT MUST GIVE (rows:IDS | sqlstate:CODE | ok | meta:REGEX;REGEX...), STATEMENT ---
names=() expects=() statements=()
step() { names+=("$1"); expects+=("$2"); statements+=("$3"); }

step connect ok "SELECT 1;"
# a) allowed, without and with a parameter (a psql variable, interpolated by psql itself)
step select_rows rows:1,2,3 "$SELECT_3;"
step select_param rows:2 "$SELECT_BY_ID = :id;"
# b) denied, then the same connection goes on
step deny sqlstate:42501 ":deny_sql;"
step after_deny rows:1,2,3 "$SELECT_3;"
# c) a denial inside a transaction aborts it until ROLLBACK
step tx_begin ok "BEGIN;"
step tx_select rows:1,2,3 "$SELECT_3;"
step tx_deny sqlstate:42501 ":deny_sql;"
step tx_aborted sqlstate:25P02 "$SELECT_3;"
step tx_rollback ok "ROLLBACK;"
step after_rollback rows:1,2,3 "$SELECT_3;"
# d) psql >= 16 sends real parameters with \bind (extended protocol); they are text, never binary
if ((psql_major >= 16)); then
  step bind_param rows:3 "$SELECT_BY_ID = \$1 \\bind 3 \\g"
  step bind_deny sqlstate:42501 ":deny_sql \\bind \\g"
  step after_bind_deny rows:2 "$SELECT_BY_ID = \$1 \\bind 2 \\g"
fi
# Describe commands: catalog queries an agent's psql sends on its own.
step describe_d 'meta:^public\|customers\|table\|;^public\|orders\|table\|' '\d'
step describe_dt 'meta:^public\|customers\|table\|;^public\|payments\|table\|' '\dt'
step describe_customers 'meta:^id\|integer\|;^card_number\|text\|' '\d+ public.customers'
step after_describe rows:1,2,3 "$SELECT_3;"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  printf '%s\n' '\set VERBOSITY verbose' '\pset pager off' '\pset format unaligned' '\pset tuples_only on' \
    "\\pset fieldsep '|'" '\set id 2'
  for i in "${!names[@]}"; do
    printf '\\echo @@step %s\n%s\n\\echo @@end :SQLSTATE\n' "${names[$i]}" "${statements[$i]}"
  done
} >"$work/script.sql"

"$PSQL" -X -q -v ON_ERROR_STOP=0 -v "deny_sql=$DENY_SQL" -d "$URL" -f "$work/script.sql" >"$work/out" 2>"$work/err"
psql_status=$?

# Split stdout by markers: output[NAME] is what the step printed, state[NAME] its SQLSTATE.
declare -A output=() state=()
current=""
while IFS= read -r line; do
  case "$line" in
    "@@step "*) current=${line#@@step }; output[$current]="" ;;
    "@@end "*) state[$current]=${line#@@end }; current="" ;;
    *) [[ -n "$current" ]] && output[$current]+="$line"$'\n' ;;
  esac
done <"$work/out"

if [[ -z "${state[connect]:-}" ]]; then
  report connect false psql_status "$psql_status" error "$(json_str "$(cat "$work/err")")"
  exit 1
fi

expected_errors=0
for i in "${!names[@]}"; do
  name=${names[$i]} expect=${expects[$i]}
  got_state=${state[$name]:-}
  out=${output[$name]:-}
  case "$expect" in
    ok)
      if [[ "$got_state" == 00000 ]]; then report "$name" true; else report "$name" false sqlstate "$(json_str "$got_state")"; fi
      ;;
    sqlstate:*)
      want=${expect#sqlstate:}
      expected_errors=$((expected_errors + 1))
      ok=false
      [[ "$got_state" == "$want" ]] && ok=true
      report "$name" "$ok" expected_sqlstate "$(json_str "$want")" sqlstate "$(json_str "$got_state")"
      ;;
    rows:*)
      IFS=, read -r -a want_ids <<<"${expect#rows:}"
      rows_json="" ids="" ok=true
      while IFS='|' read -r id full_name; do
        [[ -z "$id" ]] && continue
        ids+="${ids:+,}$id"
        rows_json+="${rows_json:+,}[$id,$(json_str "$full_name")]"
        if ((${#expect_names[@]} >= id && id >= 1)) && [[ "${expect_names[$((id - 1))]}" != "$full_name" ]]; then ok=false; fi
      done <<<"$out"
      [[ "$ids" == "${expect#rows:}" && "$got_state" == 00000 ]] || ok=false
      report "$name" "$ok" rows "[$rows_json]" expected_ids "[$(IFS=,; echo "${want_ids[*]}")]" sqlstate "$(json_str "$got_state")"
      ;;
    meta:*)
      ok=true missing=""
      IFS=';' read -r -a patterns <<<"${expect#meta:}"
      for pattern in "${patterns[@]}"; do
        grep -Eq -- "$pattern" <<<"$out" || { ok=false; missing+="${missing:+ ; }$pattern"; }
      done
      report "$name" "$ok" lines "$(grep -c . <<<"$out")" missing "$(json_str "$missing")"
      ;;
  esac
done

# stderr must hold exactly the expected errors, each with its SQLSTATE (VERBOSITY verbose).
error_lines=$(grep -E '(^|: )(ERROR|FATAL|PANIC):' "$work/err" || true)
count=$(grep -c . <<<"$error_lines" || true)
denied_lines=$(grep -Ec 'ERROR:  42501: ' <<<"$error_lines" || true)
aborted_lines=$(grep -Ec 'ERROR:  25P02: ' <<<"$error_lines" || true)
want_denied=0
for e in "${expects[@]}"; do [[ "$e" == sqlstate:42501 ]] && want_denied=$((want_denied + 1)); done
ok=false
((count == expected_errors && denied_lines == want_denied && aborted_lines == 1)) && ok=true
report stderr_errors "$ok" errors "$count" expected "$expected_errors" denied_42501 "$denied_lines" \
  stderr "$(json_str "$error_lines")"

report binary_param true skipped "$(json_str "psql sends parameters as text only")"

((psql_status == 0)) || report psql_exit false status "$psql_status"
((failed == 0)) || exit 1
exit 0
