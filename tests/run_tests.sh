#!/bin/sh
# Run each test program given, echo its output, and sum the "N passed, N failed" lines.
passed=0; failed=0; skipped=0
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "$t: crashed or printed no summary (exit $rc)"; failed=$((failed + 1)); continue
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { echo "$t: exit $rc"; failed=$((failed + 1)); }
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
