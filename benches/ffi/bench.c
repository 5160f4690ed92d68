/*
 * The C side of the FFI comparison: capstan_scan_bytes on the inputs the Rust bench
 * (benches/benches/ffi.rs) and the Go bench (crates/ffi/go/bench_test.go) time. Prints the
 * best of 7 rounds (a round: enough calls for ~0.3 s), as criterion's and Go's lower bounds.
 * Run by benches/ffi/run.sh; `bench --check` only checks the answers (used by .ci/test).
 */
#define _GNU_SOURCE
#include <capstan.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t scan(const capstan_rules *r, const char *data, size_t len) {
    capstan_findings *f = NULL;
    if (capstan_scan_bytes(r, (const uint8_t *)data, len, "a.rs", &f) != CAPSTAN_OK) {
        fprintf(stderr, "bench: %s\n", capstan_last_error());
        exit(2);
    }
    size_t n = capstan_findings_len(f);
    capstan_findings_free(f);
    return n;
}

/* Seconds per call: the best of 7 rounds of `iters` calls. */
static double best(const capstan_rules *r, const char *data, size_t len, long iters) {
    double min = 1e9;
    for (int round = 0; round < 7; round++) {
        double t0 = now();
        for (long i = 0; i < iters; i++) scan(r, data, len);
        double per = (now() - t0) / (double)iters;
        if (per < min) min = per;
    }
    return min;
}

int main(int argc, char **argv) {
    int check_only = argc > 1 && strcmp(argv[1], "--check") == 0;
    capstan_rules *r = NULL;
    if (capstan_rules_builtin(NULL, &r) != CAPSTAN_OK) {
        fprintf(stderr, "bench: %s\n", capstan_last_error());
        return 2;
    }
    /* The same bytes as the Rust and Go benches. */
    const char *line = "let total = items.iter().map(|x| x.len()).sum();\n";
    char small[151];
    snprintf(small, sizeof small, "%s%s%s", line, line, line);
    size_t big_len = 1 << 20, used = 0;
    char *big = malloc(big_len + 256);
    for (int i = 0; used < big_len; i++) {
        used += (size_t)sprintf(big + used, "    fn handler_%.*s(req: Request) -> Response { let user = req.header(\"x-user\"); respond(user) }\n",
                                i % 23, "xxxxxxxxxxxxxxxxxxxxxxx");
    }
    if (scan(r, small, 100) != 0) {
        fprintf(stderr, "bench: the 100 clean bytes gave findings\n");
        return 1;
    }
    size_t found = scan(r, big, big_len);
    if (check_only) {
        printf("ffi bench inputs ok (1 MiB: %zu findings)\n", found);
    } else {
        double small_s = best(r, small, 100, 300000);
        double big_s = best(r, big, big_len, 30);
        printf("c/scan_bytes_100   %8.1f ns/call\n", small_s * 1e9);
        printf("c/scan_bytes_1mib  %8.1f MiB/s (%.2f ms)\n", 1.0 / big_s, big_s * 1e3);
    }
    free(big);
    capstan_rules_free(r);
    return 0;
}
