/*
 * scan: scan the files and directories named on the command line as `capstan scan` does —
 * every built-in rule, .capstanignore files honoured, an optional baseline and ignore files —
 * and print one line per finding (secrets redacted; crypto findings with their algorithm and
 * quantum class), or with --json the findings as one JSON array (capstan_findings_to_json: the
 * finding objects of `capstan scan --format json`; tests/parity.sh compares them with the CLI's
 * and the Go example's). With --image (repeatable) it scans container images instead (a
 * registry reference, oci:DIR[:TAG] or docker-archive:FILE), each finding prefixed with its
 * image and layer; with --git a repository's history (every blob reachable from its refs, once),
 * each finding followed by the commit that introduced it, as `capstan git` prints it.
 *
 *   make -C examples/c && examples/c/scan [--json] [--baseline FILE] [--ignore-file FILE]... src/
 *   examples/c/scan --image alpine:3.20 --image oci:build/layout:v1
 *   examples/c/scan --git .
 *
 * Exit status: 0 clean, 1 findings, 2 an error (bad argument, unreadable path, image or
 * repository).
 */
#include <capstan.h>

#include <stdio.h>
#include <string.h>

/* One line per finding: 0, or -1 on an error. */
static int print_lines(const capstan_findings *findings) {
    for (size_t i = 0; i < capstan_findings_len(findings); i++) {
        capstan_finding f;
        if (capstan_findings_get(findings, i, &f) != CAPSTAN_OK) {
            fprintf(stderr, "scan: %s\n", capstan_last_error());
            return -1;
        }
        const char *image = capstan_findings_image(findings, i);
        long long layer = (long long)capstan_findings_layer_index(findings, i);
        if (image != NULL && layer >= 0) { /* a file in a layer */
            printf("%s@layer%lld:", image, layer);
        } else if (image != NULL) { /* the image config: the path says where */
            printf("%s@", image);
        }
        printf("%s:%u:%u: %s %s [%s] %s", f.path, f.line, f.column, f.severity, f.rule_id,
               f.category, f.secret);
        const char *algorithm = capstan_findings_algorithm(findings, i);
        if (algorithm != NULL) { /* a crypto finding */
            printf(" (%s, %s)", algorithm, capstan_findings_quantum_class(findings, i));
        }
        const char *commit = capstan_findings_commit(findings, i);
        if (commit != NULL) { /* history: the commit that introduced it, as capstan git shows */
            printf(" (commit %.12s)", commit);
        }
        long long removed = (long long)capstan_findings_removed_in_layer(findings, i);
        if (removed >= 0) {
            printf(" (deleted in layer %lld, still in the image)", removed);
        }
        printf("\n");
    }
    return 0;
}

/* The findings as one JSON array: 0, or -1 on an error. */
static int print_json(const capstan_findings *findings) {
    char *json = NULL;
    if (capstan_findings_to_json(findings, &json) != CAPSTAN_OK) {
        fprintf(stderr, "scan: %s\n", capstan_last_error());
        return -1;
    }
    printf("%s\n", json);
    capstan_string_free(json);
    return 0;
}

/* Prints the findings (as JSON or as lines), then the errors and the count suppressed on
 * stderr; returns how many findings, or -1 on an error. */
static int report(const capstan_findings *findings, int json) {
    if ((json ? print_json(findings) : print_lines(findings)) < 0) {
        return -1;
    }
    for (size_t i = 0; i < capstan_findings_errors_len(findings); i++) {
        fprintf(stderr, "scan: %s\n", capstan_findings_error(findings, i));
    }
    unsigned long long suppressed = (unsigned long long)capstan_findings_suppressed(findings);
    if (suppressed > 0) {
        fprintf(stderr, "scan: %llu finding(s) suppressed\n", suppressed);
    }
    return (int)capstan_findings_len(findings);
}

int main(int argc, char **argv) {
    capstan_request *req = NULL;
    if (capstan_request_new(&req) != CAPSTAN_OK) {
        fprintf(stderr, "scan: %s\n", capstan_last_error());
        return 2;
    }
    int inputs = 0, json = 0;
    capstan_status st = CAPSTAN_OK;
    for (int i = 1; i < argc && st == CAPSTAN_OK; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc) {
            st = capstan_request_add_baseline(req, argv[++i]);
        } else if (strcmp(argv[i], "--ignore-file") == 0 && i + 1 < argc) {
            st = capstan_request_add_ignore_file(req, argv[++i]);
        } else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) {
            st = capstan_request_add_image(req, argv[++i]);
            inputs++;
        } else if (strcmp(argv[i], "--git") == 0 && i + 1 < argc) {
            /* The whole history: every ref, no `since`, no `branch`, not the staged changes. */
            st = capstan_request_set_git(req, argv[++i], NULL, NULL, false);
            inputs++;
        } else {
            st = capstan_request_add_input(req, argv[i]);
            inputs++;
        }
    }
    if (st == CAPSTAN_OK && inputs == 0) {
        fprintf(stderr,
                "usage: %s [--json] [--baseline FILE] [--ignore-file FILE]... PATH...\n"
                "       %s [--json] [--baseline FILE] [--ignore-file FILE]... --image IMAGE...\n"
                "       %s [--json] [--baseline FILE] [--ignore-file FILE]... --git REPO\n",
                argv[0], argv[0], argv[0]);
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
    int found = report(findings, json);
    int status = found < 0 || capstan_findings_errors_len(findings) > 0 ? 2 : found > 0 ? 1 : 0;
    capstan_findings_free(findings);
    return status;
}
