#!/usr/bin/env bash
# Runs every native Go fuzz target of the repository for a bounded time, one
# target at a time (`go test -fuzz` takes a single target per run).
# Usage: hack/fuzz.sh [package dir...]   (no arguments = every package)
#
#   FUZZTIME      how long each target is fuzzed (default 8s: 16 targets, about
#                 4 minutes in all with the builds on 2 cores)
#   FUZZPARALLEL  fuzzing workers per target (default 2)
#   FUZZMINIMIZETIME  how long the engine may minimise an input it found
#                 (default 2s; go's 60s pauses fuzzing after each new input,
#                 long enough to miss a short FUZZTIME's deadline)
#
# The seed corpus of a target is its package's testdata/fuzz/<FuzzName>/; the
# plain `go test` runs those seeds as regular tests. Stops at the first
# failure and names the target; the failing input go found is written under
# that directory, to be committed as a regression seed with the fix.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FUZZTIME="${FUZZTIME:-8s}"
FUZZPARALLEL="${FUZZPARALLEL:-2}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-2s}"

if (($# > 0)); then
  dirs=("$@")
else
  mapfile -t dirs < <(grep -rl -E --include='*_test.go' --exclude-dir={.git,bin,testdata,vendor} \
    '^func Fuzz[A-Za-z0-9_]*\([a-z]+ \*testing\.F\)' . | xargs -r -n1 dirname | sort -u)
fi
((${#dirs[@]} > 0)) || { echo "fuzz: no fuzz targets found" >&2; exit 1; }

log="$(mktemp "${TMPDIR:-/tmp}/fuzz.XXXXXX")"
trap 'rm -f "$log"' EXIT
start=$SECONDS
count=0
for dir in "${dirs[@]}"; do
  dir="${dir#./}"
  dir="${dir%/}"
  mapfile -t names < <(sed -n -E 's/^func (Fuzz[A-Za-z0-9_]*)\([a-z]+ \*testing\.F\).*/\1/p' "$dir"/*_test.go | sort -u)
  for name in "${names[@]}"; do
    echo "fuzz: $name in ./$dir for $FUZZTIME"
    t0=$SECONDS
    ok=true
    for attempt in 1 2 3; do
      if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$FUZZPARALLEL" "./$dir" 2>&1 | tee "$log"; then
        ok=true
        break
      fi
      ok=false
      # On a loaded machine the fuzzing engine can miss its own deadline
      # stopping the workers ("context deadline exceeded", no input
      # written): that is no finding, so the target gets up to two more runs.
      if ((attempt < 3)) && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz: $name: the fuzzing engine missed its deadline without a finding; running it again"
        continue
      fi
      break
    done
    if ! $ok; then
      echo >&2
      echo "fuzz: FAILED: $name in ./$dir" >&2
      crasher="$(sed -n -E 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$log" | tail -n 1)"
      if [[ -n "$crasher" ]]; then
        echo "fuzz: go wrote the failing input to $dir/$crasher" >&2
        echo "fuzz: reproduce with: go test -run '^${name}\$/^${crasher##*/}\$' ./$dir" >&2
        echo "fuzz: fix the bug, then commit that file as a regression seed." >&2
      else
        echo "fuzz: no failing input was written (the build or a seed of testdata/fuzz/$name failed); see the output above." >&2
      fi
      exit 1
    fi
    echo "fuzz: $name passed in $((SECONDS - t0))s"
    count=$((count + 1))
  done
done
echo "fuzz: $count targets passed, ${FUZZTIME} each, in $((SECONDS - start))s"
