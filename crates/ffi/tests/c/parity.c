/*
 * parity: runs one scan request through the C ABI and prints its findings as JSON
 * (capstan_findings_to_json), for tests/parity.sh, which compares them with the CLI's and Go's.
 *
 *   parity [--baseline FILE]... [--ignore-file FILE]... PATH...
 *
 * Every built-in pack, .capstanignore discovery unless an ignore file is named, no cache: what
 * `capstan scan --no-cache` does. Exit status: 0 when the request ran, 2 on an error.
 */
#include <capstan.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    capstan_request *req = NULL;
    if (capstan_request_new(&req) != CAPSTAN_OK) {
        fprintf(stderr, "parity: %s\n", capstan_last_error());
        return 2;
    }
    capstan_status st = CAPSTAN_OK;
    for (int i = 1; i < argc && st == CAPSTAN_OK; i++) {
        if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc) {
            st = capstan_request_add_baseline(req, argv[++i]);
        } else if (strcmp(argv[i], "--ignore-file") == 0 && i + 1 < argc) {
            st = capstan_request_add_ignore_file(req, argv[++i]);
        } else {
            st = capstan_request_add_input(req, argv[i]);
        }
    }
    capstan_findings *findings = NULL;
    if (st == CAPSTAN_OK) {
        st = capstan_request_run(req, &findings);
    }
    char *json = NULL;
    if (st == CAPSTAN_OK) {
        st = capstan_findings_to_json(findings, &json);
    }
    if (st != CAPSTAN_OK) {
        fprintf(stderr, "parity: %s\n", capstan_last_error());
    } else {
        printf("%s\n", json);
    }
    capstan_string_free(json);
    capstan_findings_free(findings);
    capstan_request_free(req);
    return st == CAPSTAN_OK ? 0 : 2;
}
