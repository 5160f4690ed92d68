#!/bin/sh
# capstan as one CI step, for any CI that runs a POSIX shell: Jenkins, Buildkite, CircleCI,
# Drone, Woodpecker, Azure Pipelines, a GitLab job with `parallel:`, a cron job.
#
#   sh ci.sh [PATH...]   scan PATHs (default: .) and write the reports
#   sh ci.sh merge       join the parts of a scan split across CI_NODE_TOTAL jobs
#
# Reports, in $CAPSTAN_OUT (default: capstan-out, which the scan leaves out):
#   capstan.json    capstan's JSON report: findings, errors, skipped files, counters; a
#                   baseline for a later scan (--baseline)
#   capstan.sarif   SARIF 2.1.0, for code-scanning dashboards
# A job that is one part of a split scan writes its part only (capstan-K-of-N.json); a job
# after all of them, with every part in $CAPSTAN_OUT, runs `sh ci.sh merge` for the two reports.
#
# Exit status, by CAPSTAN_FAIL_ON:
#   findings (default)  capstan's own: 0 clean, 1 findings, 2 error (a file that could not be
#                       read, a bad option or config; the reports still cover the rest)
#   errors              0 on findings (the reports list them), 2 on errors
#   never               always 0: the reports say it all
# A part of a split scan exits 0 on findings (the merge judges them) and 2 on errors.
#
# Environment, all optional:
#   CAPSTAN            the capstan program (default: capstan, on PATH)
#   CAPSTAN_OUT        where the reports go (default: capstan-out)
#   CAPSTAN_FAIL_ON    findings, errors or never (above)
#   CAPSTAN_BASELINE   a `--format json` report whose findings are accepted (default:
#                      .capstan-baseline.json, used when it exists); .capstanignore in the
#                      current directory is read as always
#   CAPSTAN_CACHE_URL  a result cache shared by every runner (redis://…, rediss://…): what
#                      --cache-url takes. capstan reads the variable itself, so the URL and its
#                      password stay off the command line (where `ps` would show them)
#   CI_NODE_INDEX, CI_NODE_TOTAL
#                      split the scan: this job scans part K of N (`--shard K/N`). GitLab sets
#                      them for `parallel: N`; elsewhere set them from your CI's own variables
#                      (Buildkite: BUILDKITE_PARALLEL_JOB + 1 and BUILDKITE_PARALLEL_JOB_COUNT;
#                      CircleCI: CIRCLE_NODE_INDEX + 1 and CIRCLE_NODE_TOTAL)
#
# capstan's tests run this script in a repository with a committed token
# (crates/cli/tests/recipes.rs).
set -eu

capstan=${CAPSTAN:-capstan}
out=${CAPSTAN_OUT:-capstan-out}
fail_on=${CAPSTAN_FAIL_ON:-findings}
baseline=${CAPSTAN_BASELINE:-.capstan-baseline.json}
index=${CI_NODE_INDEX:-1}
total=${CI_NODE_TOTAL:-1}

die() {
    echo "ci.sh: $*" >&2
    exit 2
}

case $fail_on in
findings | errors | never) ;;
*) die "CAPSTAN_FAIL_ON is findings, errors or never, not '$fail_on'" ;;
esac
case $index$total in
'' | *[!0-9]*) die "CI_NODE_INDEX and CI_NODE_TOTAL are numbers, not '$index' and '$total'" ;;
esac

# Ends the step with capstan's status $1 under the CAPSTAN_FAIL_ON policy.
verdict() {
    case $1 in
    0) exit 0 ;;
    1) [ "$fail_on" = findings ] && exit 1 || exit 0 ;;
    *) [ "$fail_on" = never ] && exit 0 || exit "$1" ;;
    esac
}

# Writes capstan.json and capstan.sarif from the parts named in "$@" and ends the step with
# the merged report's status (0 clean, 1 findings, 2 errors or a part missing). With `quiet`
# first, the merge's summary is not printed (the scan just printed its own).
report() {
    quiet=
    if [ "$1" = quiet ]; then
        quiet=1
        shift
    fi
    # No report from an earlier run may pass for this one's.
    rm -f "$out/capstan.json" "$out/capstan.sarif"
    status=0
    if [ -n "$quiet" ]; then
        "$capstan" merge --format json --output "$out/capstan.json" "$@" 2>/dev/null || status=$?
    else
        "$capstan" merge --format json --output "$out/capstan.json" "$@" || status=$?
    fi
    if [ -f "$out/capstan.json" ]; then
        # The same parts again, as SARIF: what the first merge said is not said twice.
        "$capstan" merge --format sarif --output "$out/capstan.sarif" "$@" 2>/dev/null || :
    fi
    verdict "$status"
}

if [ "${1:-}" = merge ]; then
    [ $# -eq 1 ] || die "merge takes no arguments: the parts are $out/capstan-*-of-*.json"
    set -- "$out"/capstan-*-of-*.json
    [ -f "$1" ] || die "no parts in $out/: run ci.sh in every job of the split first, and bring their $out/capstan-*-of-*.json here"
    report "$@"
fi

[ $# -gt 0 ] || set -- .
# The reports are not part of what is scanned (when they are inside it).
case $out in
/* | ../*) ;;
*) set -- --exclude "/${out#./}/" "$@" ;;
esac
if [ -f "$baseline" ]; then
    set -- --baseline "$baseline" "$@"
fi

mkdir -p "$out"
part="$out/capstan-$index-of-$total.json"
rm -f "$part"
# Always a part, even of one (1/1): one path for one job and for many, and `capstan merge`
# turns a part into both reports without scanning again.
status=0
"$capstan" scan --shard "$index/$total" --format json --output "$part" "$@" || status=$?

if [ "$total" -gt 1 ]; then
    echo "ci.sh: wrote $part, part $index of $total; run 'sh ci.sh merge' once every part is in $out/" >&2
    case $status in
    0 | 1) exit 0 ;;
    *) verdict "$status" ;;
    esac
fi
# No report at all (a bad option or config): capstan said why.
[ -f "$part" ] || verdict "$status"
case $status in
0 | 1) report quiet "$part" ;;
*)
    # Errors (files that could not be read) or an interrupted scan: still write the reports,
    # but end with capstan's status.
    (report quiet "$part") || :
    verdict "$status"
    ;;
esac
