/*
 * scan: scan the files and directories named on the command line as `capstan scan` does —
 * every built-in rule, .capstanignore files honoured, an optional baseline and ignore files —
 * and print one line per finding (secrets redacted; crypto findings with their algorithm and
 * quantum class).
 *
 *   make -C examples/c && examples/c/scan [--baseline FILE] [--ignore-file FILE]... src/ .env
 *
 * Exit status: 0 clean, 1 findings, 2 an error (bad argument, unreadable path).
 */
#include <capstan.h>

#include <stdio.h>
#include <string.h>

static int report(const capstan_findings *findings) {
    size_t n = capstan_findings_len(findings);
    for (size_t i = 0; i < n; i++) {
        capstan_finding f;
        if (capstan_findings_get(findings, i, &f) != CAPSTAN_OK) {
            fprintf(stderr, "scan: %s\n", capstan_last_error());
            return -1;
        }
        printf("%s:%u:%u: %s %s [%s] %s", f.path, f.line, f.column, f.severity, f.rule_id,
               f.category, f.secret);
        const char *algorithm = capstan_findings_algorithm(findings, i);
        if (algorithm != NULL) { /* a crypto finding */
            printf(" (%s, %s)", algorithm, capstan_findings_quantum_class(findings, i));
        }
        printf("\n");
    }
    for (size_t i = 0; i < capstan_findings_errors_len(findings); i++) {
        fprintf(stderr, "scan: %s\n", capstan_findings_error(findings, i));
    }
    unsigned long long suppressed = (unsigned long long)capstan_findings_suppressed(findings);
    if (suppressed > 0) {
        fprintf(stderr, "scan: %llu finding(s) suppressed\n", suppressed);
    }
    return (int)n;
}

int main(int argc, char **argv) {
    capstan_request *req = NULL;
    if (capstan_request_new(&req) != CAPSTAN_OK) {
        fprintf(stderr, "scan: %s\n", capstan_last_error());
        return 2;
    }
    int inputs = 0;
    capstan_status st = CAPSTAN_OK;
    for (int i = 1; i < argc && st == CAPSTAN_OK; i++) {
        if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc) {
            st = capstan_request_add_baseline(req, argv[++i]);
        } else if (strcmp(argv[i], "--ignore-file") == 0 && i + 1 < argc) {
            st = capstan_request_add_ignore_file(req, argv[++i]);
        } else {
            st = capstan_request_add_input(req, argv[i]);
            inputs++;
        }
    }
    if (st == CAPSTAN_OK && inputs == 0) {
        fprintf(stderr, "usage: %s [--baseline FILE] [--ignore-file FILE]... PATH...\n", argv[0]);
        capstan_request_free(req);
        return 2;
    }
    capstan_findings *findings = NULL;
    if (st == CAPSTAN_OK) {
        st = capstan_request_run(req, &findings);
    }
    capstan_request_free(req); /* the findings stay valid */
    if (st != CAPSTAN_OK) {
        fprintf(stderr, "scan: %s\n", capstan_last_error());
        return 2;
    }
    int found = report(findings);
    int status = found < 0 || capstan_findings_errors_len(findings) > 0 ? 2 : found > 0 ? 1 : 0;
    capstan_findings_free(findings);
    return status;
}
