#!/bin/sh
# amalgamate.sh - build the single header llm.h from the numbered parts in llm_impl/.
#
#   sh llm_impl/amalgamate.sh [--lines] > llm.h
#
# Order is the LC_ALL=C sort order of the file names (the numeric prefix is the order).
#   00_*            the tour (comments only), emitted first
#   01_* .. 09_*    the API, inside the include guard
#   10_* .. 98_*    the implementation, inside #ifdef LLM_IMPLEMENTATION
#   99_*            license and notices, emitted last
# Each part is wrapped in begin/end banners; `#include "NN_x.h"` lines that point at
# another part become comments (that part is already in the file). The output is
# deterministic: no dates, no hashes. --lines adds #line directives for debugging.
set -eu
dir=$(dirname "$0")
lines=0
[ "${1:-}" = "--lines" ] && lines=1
export LC_ALL=C

emit() {
    # $1 = file. Drop local includes of other parts, enforce LF / no tabs / no trailing blanks.
    awk -v name="llm_impl/$(basename "$1")" -v lines="$lines" '
        BEGIN { print "/* ==== begin " name " ==== */"; if (lines) print "#line 1 \"" name "\"" }
        /\r$/         { printf "%s:%d: CR line ending\n", name, NR > "/dev/stderr"; bad = 1 }
        /\t/          { printf "%s:%d: tab character\n", name, NR > "/dev/stderr"; bad = 1 }
        /[ ]+$/       { printf "%s:%d: trailing whitespace\n", name, NR > "/dev/stderr"; bad = 1 }
        /^#include "[0-9][0-9]_[A-Za-z0-9_]*\.h"/ { print "/* " $0 " (already above) */"; next }
        { print }
        END { print "/* ==== end " name " ==== */"; if (bad) exit 1 }
    ' "$1"
}

printf '%s\n' "/* llm.h: generated from llm_impl/ - edit there, then run 'make llm.h'. */"
for f in "$dir"/00_*; do emit "$f"; done
printf '%s\n' "#ifndef LLM_H_INCLUDED" "#define LLM_H_INCLUDED"
for f in "$dir"/0[1-9]_*; do emit "$f"; done
printf '%s\n' "#endif /* LLM_H_INCLUDED */" "" \
    "/* ======================================================================" \
    "   API ends here; the implementation follows. You can stop reading.     " \
    "   ====================================================================== */" "" \
    "#ifdef LLM_IMPLEMENTATION" "#ifndef LLM_IMPLEMENTATION_INCLUDED" "#define LLM_IMPLEMENTATION_INCLUDED"
for f in "$dir"/[1-9][0-9]_*; do
    case "$(basename "$f")" in 99_*) continue ;; esac
    emit "$f"
done
printf '%s\n' "#endif /* LLM_IMPLEMENTATION_INCLUDED */" "#endif /* LLM_IMPLEMENTATION */"
for f in "$dir"/99_*; do emit "$f"; done
