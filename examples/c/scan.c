/*
 * scan: scan the files and directories named on the command line with capstan's built-in
 * rules and print one line per finding (secrets redacted).
 *
 *   make -C examples/c && examples/c/scan src/ .env
 *
 * Exit status: 0 clean, 1 findings, 2 an error (bad argument, unreadable path).
 */
#include <capstan.h>

#include <stdio.h>

static int report(const capstan_findings *findings) {
    size_t n = capstan_findings_len(findings);
    for (size_t i = 0; i < n; i++) {
        capstan_finding f;
        if (capstan_findings_get(findings, i, &f) != CAPSTAN_OK) {
            fprintf(stderr, "scan: %s\n", capstan_last_error());
            return -1;
        }
        printf("%s:%u:%u: %s %s [%s] %s\n", f.path, f.line, f.column, f.severity, f.rule_id,
               f.category, f.secret);
    }
    for (size_t i = 0; i < capstan_findings_errors_len(findings); i++) {
        fprintf(stderr, "scan: %s\n", capstan_findings_error(findings, i));
    }
    return (int)n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...\n", argv[0]);
        return 2;
    }
    capstan_rules *rules = NULL;
    if (capstan_rules_builtin(NULL, &rules) != CAPSTAN_OK) {
        fprintf(stderr, "scan: rules: %s\n", capstan_last_error());
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        capstan_findings *findings = NULL;
        if (capstan_scan_path(rules, argv[i], 0, &findings) != CAPSTAN_OK) {
            fprintf(stderr, "scan: %s\n", capstan_last_error());
            status = 2;
            continue;
        }
        int found = report(findings);
        if (found < 0 || capstan_findings_errors_len(findings) > 0) {
            status = 2;
        } else if (found > 0 && status == 0) {
            status = 1;
        }
        capstan_findings_free(findings);
    }
    capstan_rules_free(rules);
    return status;
}
