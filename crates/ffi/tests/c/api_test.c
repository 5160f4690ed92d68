/*
 * The C ABI from C: every call, its errors, and garbage arguments. Run by .ci/test under
 * valgrind (no leak, no invalid read or write). Build:
 *   cc -Wall -Wextra -Werror -I crates/ffi/include crates/ffi/tests/c/api_test.c \
 *      target/release/libcapstan.a -lpthread -ldl -lm -o api_test
 */
#define _GNU_SOURCE
#include <capstan.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,    \
                    __LINE__, #cond, capstan_last_error() ? capstan_last_error() : "-"); \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

static const char TOKEN_LINE[] = "GITHUB_TOKEN=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\n";

static int contains(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* Writes text to dir/name. */
static void write_in(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, text);
}

static void test_version_and_errors(void) {
    CHECK(capstan_version() != NULL && strlen(capstan_version()) > 0);
    capstan_rules *r = NULL;
    CHECK(capstan_rules_builtin("secrets,nope", &r) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);
    CHECK(contains(capstan_last_error(), "nope"));
    CHECK(capstan_rules_builtin(NULL, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_rules_builtin("secrets", &r) == CAPSTAN_OK);
    CHECK(capstan_last_error() == NULL);
    CHECK(capstan_rules_len(r) > 100);
    capstan_rules *twin = NULL;
    CHECK(capstan_rules_clone(r, &twin) == CAPSTAN_OK);
    capstan_rules_free(r);
    CHECK(capstan_rules_len(twin) > 100); /* the clone keeps the rules alive */
    capstan_rules_free(twin);
    CHECK(capstan_rules_clone(NULL, &twin) == CAPSTAN_ERR_INVALID_ARGUMENT);
    capstan_rules_free(NULL);
    capstan_findings_free(NULL);
    capstan_scanner_free(NULL);
    capstan_string_free(NULL);
}

static void test_toml_and_files(const char *tmp) {
    const char toml[] = "[[rules]]\nid = \"internal-token\"\nregex = '''itk_[a-z0-9]{32}'''\n"
                        "keywords = [\"itk_\"]\n";
    capstan_rules *r = NULL;
    CHECK(capstan_rules_from_toml(toml, strlen(toml), &r) == CAPSTAN_OK);
    const char data[] = "x = itk_0123456789abcdef0123456789abcdef\n";
    capstan_findings *f = NULL;
    CHECK(capstan_scan_bytes(r, (const uint8_t *)data, strlen(data), "conf.py", &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 1);
    capstan_finding one;
    CHECK(capstan_findings_get(f, 0, &one) == CAPSTAN_OK);
    CHECK(strcmp(one.rule_id, "internal-token") == 0);
    CHECK(strcmp(one.path, "conf.py") == 0);
    CHECK(one.line == 1 && one.column == 5 && one.end_column == 40);
    CHECK(!contains(one.secret, "abcdef0123"));
    capstan_findings_free(f);
    capstan_rules_free(r);

    const char bad[] = "[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n";
    r = NULL;
    CHECK(capstan_rules_from_toml(bad, strlen(bad), &r) == CAPSTAN_ERR_CONFIG);
    CHECK(r == NULL && contains(capstan_last_error(), "broken"));
    CHECK(capstan_rules_from_toml(NULL, 5, &r) == CAPSTAN_ERR_INVALID_ARGUMENT);
    const char garbage[] = "\xff\xfe[[rules]";
    CHECK(capstan_rules_from_toml(garbage, sizeof garbage - 1, &r) == CAPSTAN_ERR_CONFIG);

    char path[512];
    snprintf(path, sizeof path, "%s/rules.toml", tmp);
    write_file(path, toml);
    CHECK(capstan_rules_from_file(path, &r) == CAPSTAN_OK);
    capstan_rules_free(r);
    r = NULL;
    snprintf(path, sizeof path, "%s/missing.toml", tmp);
    CHECK(capstan_rules_from_file(path, &r) == CAPSTAN_ERR_IO);
    CHECK(contains(capstan_last_error(), "missing.toml"));
    CHECK(capstan_rules_from_file(NULL, &r) == CAPSTAN_ERR_INVALID_ARGUMENT);
}

static void test_scan_and_stream(const capstan_rules *r) {
    capstan_findings *whole = NULL;
    CHECK(capstan_scan_bytes(r, (const uint8_t *)TOKEN_LINE, strlen(TOKEN_LINE), ".env", &whole) ==
          CAPSTAN_OK);
    CHECK(capstan_findings_len(whole) >= 1);
    capstan_finding a, b;
    CHECK(capstan_findings_get(whole, 0, &a) == CAPSTAN_OK);
    CHECK(contains(a.rule_id, "github"));
    CHECK(strcmp(a.category, "secret") == 0);
    CHECK(!contains(a.secret, "8kTqZ2vXw9"));
    CHECK(capstan_findings_get(whole, 999, &a) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_findings_get(whole, 0, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    char *json = NULL;
    CHECK(capstan_findings_to_json(whole, &json) == CAPSTAN_OK);
    CHECK(contains(json, "\"rule_id\"") && !contains(json, "8kTqZ2vXw9"));
    capstan_string_free(json);

    /* One byte at a time gives the same findings as the whole buffer. */
    capstan_scanner *s = NULL;
    CHECK(capstan_scanner_new(r, ".env", &s) == CAPSTAN_OK);
    for (size_t i = 0; i < strlen(TOKEN_LINE); i++) {
        CHECK(capstan_scanner_feed(s, (const uint8_t *)TOKEN_LINE + i, 1) == CAPSTAN_OK);
    }
    CHECK(capstan_scanner_feed(s, NULL, 0) == CAPSTAN_OK);
    CHECK(capstan_scanner_feed(s, NULL, 1) == CAPSTAN_ERR_INVALID_ARGUMENT);
    capstan_findings *streamed = NULL;
    CHECK(capstan_scanner_finish(s, &streamed) == CAPSTAN_OK);
    CHECK(capstan_findings_len(streamed) == capstan_findings_len(whole));
    CHECK(capstan_findings_get(streamed, 0, &b) == CAPSTAN_OK);
    CHECK(strcmp(a.fingerprint, b.fingerprint) == 0 && a.line == b.line && a.column == b.column);
    CHECK(capstan_scanner_feed(s, (const uint8_t *)"x", 1) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "finished"));
    capstan_findings *again = NULL;
    CHECK(capstan_scanner_finish(s, &again) == CAPSTAN_ERR_INVALID_ARGUMENT && again == NULL);
    capstan_scanner_free(s);
    capstan_findings_free(streamed);
    capstan_findings_free(whole);

    /* Garbage: NULL handles, NULL data with a length, binary input. */
    capstan_findings *f = NULL;
    CHECK(capstan_scan_bytes(NULL, (const uint8_t *)"x", 1, NULL, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_bytes(r, NULL, 10, NULL, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_bytes(r, NULL, 0, "\xff\xfe", &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 0);
    capstan_findings_free(f);
    CHECK(capstan_scanner_new(NULL, NULL, &s) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scanner_feed(NULL, (const uint8_t *)"x", 1) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_findings_len(NULL) == 0 && capstan_findings_error(NULL, 0) == NULL);

    /* A scanner outlives the rules it was made from. */
    capstan_rules *own = NULL;
    CHECK(capstan_rules_builtin("secrets", &own) == CAPSTAN_OK);
    CHECK(capstan_scanner_new(own, "late.env", &s) == CAPSTAN_OK);
    capstan_rules_free(own);
    CHECK(capstan_scanner_feed(s, (const uint8_t *)TOKEN_LINE, strlen(TOKEN_LINE)) == CAPSTAN_OK);
    CHECK(capstan_scanner_finish(s, &f) == CAPSTAN_OK && capstan_findings_len(f) >= 1);
    capstan_findings_free(f);
    capstan_scanner_free(s);
}

static void test_tree(const capstan_rules *r, const char *tmp) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/tree", tmp);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/sub", dir);
    mkdir(path, 0755);
    write_in(dir, "sub/.env", TOKEN_LINE);
    write_in(dir, "clean.txt", "nothing here\n");
    capstan_findings *f = NULL;
    CHECK(capstan_scan_path(r, dir, 2, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) >= 1);
    CHECK(capstan_findings_errors_len(f) == 0);
    capstan_finding one;
    CHECK(capstan_findings_get(f, 0, &one) == CAPSTAN_OK && contains(one.path, "sub/.env"));
    capstan_findings_free(f);

    f = NULL;
    snprintf(path, sizeof path, "%s/does-not-exist", tmp);
    CHECK(capstan_scan_path(r, path, 0, &f) == CAPSTAN_ERR_IO && f == NULL);
    CHECK(contains(capstan_last_error(), "does-not-exist"));
}

/* The fingerprint of the finding whose path ends in `suffix`, copied into `fp` ("" if none). */
static void fingerprint_of(const capstan_findings *f, const char *suffix, char *fp, size_t cap) {
    fp[0] = '\0';
    for (size_t i = 0; i < capstan_findings_len(f); i++) {
        capstan_finding one;
        if (capstan_findings_get(f, i, &one) != CAPSTAN_OK) continue;
        size_t n = strlen(one.path), k = strlen(suffix);
        if (n >= k && strcmp(one.path + n - k, suffix) == 0) {
            snprintf(fp, cap, "%s", one.fingerprint);
        }
    }
}

static const char *const TOKENS[3] = {
    "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",
    "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",
    "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",
};

/* A request: rules shared or packs by name, a baseline and an ignore file suppressing two of
 * three tokens (counted), the crypto fields of an MD5 call, and every setter's errors. */
static void test_request(const capstan_rules *r, const char *tmp) {
    char dir[512], path[700], line[200];
    snprintf(dir, sizeof dir, "%s/req", tmp);
    mkdir(dir, 0755);
    const char *subs[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/.env", dir, subs[i]);
        snprintf(line, sizeof line, "GITHUB_TOKEN=%s\n", TOKENS[i]);
        write_file(path, line);
    }
    write_in(dir, "app.py", "import hashlib\ndigest = hashlib.md5(data).hexdigest()\n");

    capstan_request *req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_add_input(req, dir) == CAPSTAN_OK);
    CHECK(capstan_request_set_rules(req, r) == CAPSTAN_OK);
    CHECK(capstan_request_set_threads(req, 2) == CAPSTAN_OK);
    capstan_findings *f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 4);
    CHECK(capstan_findings_suppressed(f) == 0);
    int crypto = 0;
    for (size_t i = 0; i < capstan_findings_len(f); i++) {
        capstan_finding one;
        CHECK(capstan_findings_get(f, i, &one) == CAPSTAN_OK);
        if (strcmp(one.category, "crypto") == 0) {
            crypto++;
            CHECK(contains(one.path, "app.py") && one.line == 2);
            CHECK(contains(capstan_findings_algorithm(f, i), "MD5"));
            CHECK(contains(capstan_findings_quantum_class(f, i), "weak"));
            CHECK(contains(capstan_findings_primitive(f, i), "hash"));
            CHECK(capstan_findings_replacement(f, i) != NULL &&
                  strlen(capstan_findings_replacement(f, i)) > 0);
            CHECK(contains(capstan_findings_tags(f, i), "hash"));
        } else {
            CHECK(capstan_findings_algorithm(f, i) == NULL);
            CHECK(capstan_findings_quantum_class(f, i) == NULL);
            CHECK(capstan_findings_primitive(f, i) == NULL);
            CHECK(capstan_findings_replacement(f, i) == NULL);
            CHECK(capstan_findings_tags(f, i) != NULL); /* "" when the rule has none */
        }
    }
    CHECK(crypto == 1);
    for (size_t i = 0; i < capstan_findings_len(f); i++) {
        capstan_finding one;
        CHECK(capstan_findings_get(f, i, &one) == CAPSTAN_OK);
        /* A checksum-verified GitHub token is high; the MD5 call has its rule's medium. */
        CHECK(strcmp(capstan_findings_confidence(f, i),
                     strcmp(one.category, "crypto") == 0 ? "medium" : "high") == 0);
    }
    CHECK(capstan_findings_confidence(f, 99) == NULL && capstan_findings_confidence(NULL, 0) == NULL);
    for (size_t i = 0; i < capstan_findings_len(f); i++) {
        capstan_finding one;
        CHECK(capstan_findings_get(f, i, &one) == CAPSTAN_OK);
        const char *v = capstan_findings_verified(f, i);
        CHECK(strcmp(one.category, "crypto") == 0 ? v == NULL : strcmp(v, "checksum") == 0);
    }
    CHECK(capstan_findings_verified(f, 99) == NULL && capstan_findings_verified(NULL, 0) == NULL);
    CHECK(capstan_findings_below_confidence(f) == 0 && capstan_findings_below_confidence(NULL) == 0);
    CHECK(capstan_findings_algorithm(f, 99) == NULL && capstan_findings_tags(f, 99) == NULL);
    CHECK(capstan_findings_algorithm(NULL, 0) == NULL && capstan_findings_suppressed(NULL) == 0);
    char fp_a[128], fp_b[128];
    fingerprint_of(f, "/a/.env", fp_a, sizeof fp_a);
    fingerprint_of(f, "/b/.env", fp_b, sizeof fp_b);
    CHECK(strlen(fp_a) > 0 && strlen(fp_b) > 0);
    capstan_findings_free(f);

    /* Only high confidence: the three tokens, and the MD5 call counted as left out. */
    CHECK(capstan_request_set_min_confidence(req, "sure") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "sure"));
    CHECK(capstan_request_set_min_confidence(req, "high") == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 3 && capstan_findings_below_confidence(f) == 1);
    capstan_findings_free(f);
    CHECK(capstan_request_set_min_confidence(req, NULL) == CAPSTAN_OK);

    /* Token a in a baseline, token b in an ignore file: both left out, and counted. */
    char baseline[600], ignore[600];
    snprintf(baseline, sizeof baseline, "%s/baseline.json", tmp);
    snprintf(line, sizeof line, "{\"findings\":[{\"fingerprint\":\"%s\"}]}", fp_a);
    write_file(baseline, line);
    snprintf(ignore, sizeof ignore, "%s/ignore", tmp);
    snprintf(line, sizeof line, "# a known test token\n%s\n", fp_b);
    write_file(ignore, line);
    CHECK(capstan_request_add_baseline(req, baseline) == CAPSTAN_OK);
    CHECK(capstan_request_add_ignore_file(req, ignore) == CAPSTAN_OK);
    CHECK(capstan_request_set_ignore_discovery(req, true) == CAPSTAN_ERR_INVALID_ARGUMENT);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 2);
    CHECK(capstan_findings_suppressed(f) == 2);
    for (size_t i = 0; i < capstan_findings_len(f); i++) {
        capstan_finding one;
        CHECK(capstan_findings_get(f, i, &one) == CAPSTAN_OK);
        CHECK(contains(one.path, "/c/.env") || contains(one.path, "app.py"));
    }
    capstan_findings_free(f);

    /* Runs again with a cache: the same answer. */
    snprintf(path, sizeof path, "%s/cache", tmp);
    CHECK(capstan_request_set_cache_dir(req, path) == CAPSTAN_OK);
    for (int run = 0; run < 2; run++) {
        f = NULL;
        CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
        CHECK(capstan_findings_len(f) == 2 && capstan_findings_suppressed(f) == 2);
        capstan_findings_free(f);
    }

    /* A shared level that is not there (nothing listens on port 1): the same answer, no error;
     * a shard of three finds a part; a URL that is not one is refused naming it, password
     * hidden. */
    CHECK(capstan_request_set_cache_url(req, "redis://u:hunter2@127.0.0.1:1/0", 60, 50) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 2 && capstan_findings_suppressed(f) == 2);
    capstan_findings_free(f);
    CHECK(capstan_request_set_shard(req, 0, 3) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_shard(req, 4, 3) == CAPSTAN_ERR_INVALID_ARGUMENT);
    size_t across = 0;
    for (uint32_t k = 1; k <= 3; k++) {
        CHECK(capstan_request_set_shard(req, k, 3) == CAPSTAN_OK);
        f = NULL;
        CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
        across += capstan_findings_len(f);
        capstan_findings_free(f);
    }
    CHECK(across == 2);
    CHECK(capstan_request_set_shard(req, 0, 0) == CAPSTAN_OK);
    CHECK(capstan_request_set_cache_url(req, "http://u:hunter2@h", 0, 0) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_ERR_INVALID_ARGUMENT && f == NULL);
    CHECK(contains(capstan_last_error(), "http://u:***@h"));
    CHECK(!contains(capstan_last_error(), "hunter2"));
    CHECK(capstan_request_set_cache_url(req, NULL, 0, 0) == CAPSTAN_OK);

    /* A baseline that is not there: an I/O error naming it; nothing is written to out. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing-baseline.json", tmp);
    CHECK(capstan_request_add_baseline(req, missing) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_ERR_IO && f == NULL);
    CHECK(contains(capstan_last_error(), "missing-baseline.json"));
    capstan_request_free(req);

    /* Packs by name instead of rules; settings out of range; an unreadable input. */
    req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_set_threads(req, 100000) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "100000") && contains(capstan_last_error(), "1024"));
    CHECK(capstan_request_set_max_file_size(req, 0) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_pack(req, "nope") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "secrets"));
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_ERR_INVALID_ARGUMENT && f == NULL);
    CHECK(contains(capstan_last_error(), "no input"));
    CHECK(capstan_request_add_pack(req, "secrets") == CAPSTAN_OK);
    CHECK(capstan_request_set_rules(req, r) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_input(req, dir) == CAPSTAN_OK);
    snprintf(path, sizeof path, "%s/does-not-exist", tmp);
    CHECK(capstan_request_add_input(req, path) == CAPSTAN_OK);
    CHECK(capstan_request_set_redact(req, false) == CAPSTAN_OK);
    CHECK(capstan_request_set_ignore_discovery(req, false) == CAPSTAN_OK);
    CHECK(capstan_request_set_max_file_size(req, 1 << 20) == CAPSTAN_OK);
    CHECK(capstan_request_set_threads(req, 0) == CAPSTAN_OK);
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 3); /* the secrets pack: no crypto finding */
    CHECK(capstan_findings_errors_len(f) == 1 &&
          contains(capstan_findings_error(f, 0), "does-not-exist"));
    char *json = NULL;
    CHECK(capstan_findings_to_json(f, &json) == CAPSTAN_OK);
    CHECK(contains(json, TOKENS[0])); /* not redacted */
    capstan_string_free(json);
    capstan_findings_free(f);

    /* A config instead: unreadable is an I/O error, invalid a config error. */
    snprintf(path, sizeof path, "%s/none.toml", tmp);
    CHECK(capstan_request_set_config(req, path) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_ERR_IO && f == NULL);
    CHECK(contains(capstan_last_error(), "none.toml"));
    snprintf(path, sizeof path, "%s/broken.toml", tmp);
    write_file(path, "[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n");
    CHECK(capstan_request_set_config(req, path) == CAPSTAN_OK);
    CHECK(capstan_request_run(req, &f) == CAPSTAN_ERR_CONFIG && f == NULL);
    CHECK(contains(capstan_last_error(), "broken"));
    capstan_request_free(req);

    /* Garbage. */
    CHECK(capstan_request_new(NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_input(NULL, dir) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_run(NULL, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_add_input(req, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_input(req, "") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_baseline(req, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_rules(req, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_pack(req, "\xff") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_run(req, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    capstan_request_free(req);
    capstan_request_free(NULL);

    /* The short form refuses a thread count past the limit rather than lowering it. */
    f = NULL;
    CHECK(capstan_scan_path(r, dir, 100000, &f) == CAPSTAN_ERR_INVALID_ARGUMENT && f == NULL);
    CHECK(contains(capstan_last_error(), "100000"));
}

/* --- Images: an OCI image layout written here (SHA-256, a ustar writer, JSON by hand). --- */

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                      SHA256_K[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

/* "sha256:<hex>" of data, into out (72 bytes). */
static void sha256_digest(const void *data, size_t len, char out[72]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t done = 0;
    for (; len - done >= 64; done += 64) sha256_block(h, p + done);
    unsigned char last[128] = {0};
    size_t rest = len - done, n = rest < 56 ? 64 : 128;
    memcpy(last, p + done, rest);
    last[rest] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) last[n - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t i = 0; i < n; i += 64) sha256_block(h, last + i);
    int at = snprintf(out, 72, "sha256:");
    for (int i = 0; i < 8; i++) at += snprintf(out + at, 72 - (size_t)at, "%08x", h[i]);
}

struct bytes {
    unsigned char *data;
    size_t len, cap;
};

static void bytes_put(struct bytes *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = realloc(b->data, b->cap);
        if (b->data == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends a regular file (mode 0644, mtime 0) to a ustar archive. */
static void tar_add(struct bytes *b, const char *name, const char *text) {
    unsigned char h[512] = {0};
    size_t n = strlen(text);
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    char field[32];
    snprintf(field, sizeof field, "%011o", (unsigned)n); /* the files here are small */
    memcpy(h + 124, field, 11);
    memcpy(h + 136, "00000000000", 11);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf(field, sizeof field, "%06o", sum & 0777777);
    memcpy(h + 148, field, 7); /* six digits and a NUL, then the space already there */
    bytes_put(b, h, sizeof h);
    bytes_put(b, text, n);
    static const unsigned char zeros[1024];
    bytes_put(b, zeros, (512 - n % 512) % 512);
}

static void tar_end(struct bytes *b) {
    static const unsigned char zeros[1024];
    bytes_put(b, zeros, sizeof zeros);
}

/* Stores data as a blob of the layout at dir; its digest into digest (72 bytes). */
static void put_blob(const char *dir, const void *data, size_t len, char digest[72]) {
    char path[700];
    sha256_digest(data, len, digest);
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, digest + strlen("sha256:"));
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

struct layout {
    char manifest[72];
    char layers[2][72];
};

/* An OCI image layout at dir tagged v1: a token in layer 0's etc/app/.env, which layer 1
 * deletes (a whiteout), one in layer 1's srv/new.env, and one in the config's Env[1]. */
static void write_layout(const char *dir, struct layout *w) {
    char path[700];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/blobs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    mkdir(path, 0755);
    char line[200];
    struct bytes layers[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    snprintf(line, sizeof line, "GITHUB_TOKEN=%s\n", TOKENS[0]);
    tar_add(&layers[0], "etc/app/.env", line);
    tar_add(&layers[0], "srv/ok.txt", "hello\n");
    tar_end(&layers[0]);
    tar_add(&layers[1], "etc/app/.wh..env", "");
    snprintf(line, sizeof line, "GITHUB_TOKEN=%s\n", TOKENS[1]);
    tar_add(&layers[1], "srv/new.env", line);
    tar_end(&layers[1]);
    for (int i = 0; i < 2; i++) put_blob(dir, layers[i].data, layers[i].len, w->layers[i]);

    char config[1000], config_digest[72], manifest[2000];
    int n = snprintf(config, sizeof config,
                     "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":"
                     "[\"PATH=/usr/bin\",\"API_TOKEN=%s\"]},\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[\"%s\",\"%s\"]}}",
                     TOKENS[2], w->layers[0], w->layers[1]);
    put_blob(dir, config, (size_t)n, config_digest);
    n = snprintf(manifest, sizeof manifest,
                 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                 "\"digest\":\"%s\",\"size\":%d},\"layers\":["
                 "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu},"
                 "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
                 config_digest, (int)strlen(config), w->layers[0], layers[0].len, w->layers[1],
                 layers[1].len);
    put_blob(dir, manifest, (size_t)n, w->manifest);
    free(layers[0].data);
    free(layers[1].data);

    char index[1000];
    snprintf(index, sizeof index,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
             "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%d,"
             "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
             w->manifest, n);
    write_in(dir, "index.json", index);
    write_in(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
}

static int same(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The three findings of the layout above, read through every image accessor. */
static void check_image_findings(const capstan_findings *f, const char *image,
                                 const struct layout *w) {
    CHECK(capstan_findings_len(f) == 3);
    CHECK(capstan_findings_errors_len(f) == 0);
    struct {
        const char *path;
        int64_t layer, removed;
    } want[3] = {{"config:Env[1]", -1, -1}, {"etc/app/.env", 0, 1}, {"srv/new.env", 1, -1}};
    for (size_t i = 0; i < 3 && i < capstan_findings_len(f); i++) {
        capstan_finding one;
        CHECK(capstan_findings_get(f, i, &one) == CAPSTAN_OK);
        CHECK(same(one.path, want[i].path));
        CHECK(contains(one.rule_id, "github"));
        CHECK(same(capstan_findings_image(f, i), image));
        CHECK(same(capstan_findings_manifest_digest(f, i), w->manifest));
        CHECK(capstan_findings_platform(f, i) == NULL); /* not a multi-platform index */
        CHECK(capstan_findings_layer_index(f, i) == want[i].layer);
        CHECK(capstan_findings_removed_in_layer(f, i) == want[i].removed);
        if (want[i].layer < 0) {
            CHECK(capstan_findings_layer_digest(f, i) == NULL);
        } else {
            CHECK(same(capstan_findings_layer_digest(f, i), w->layers[want[i].layer]));
        }
        CHECK(!contains(one.secret, "8kTqZ2vXw9")); /* redacted, in the config too */
    }
    CHECK(capstan_findings_image(f, 3) == NULL && capstan_findings_layer_index(f, 3) == -1);
    CHECK(capstan_findings_removed_in_layer(f, 3) == -1);
}

static void test_image(const char *tmp) {
    char dir[512], image[600], path[700];
    snprintf(dir, sizeof dir, "%s/layout", tmp);
    struct layout w;
    write_layout(dir, &w);
    snprintf(image, sizeof image, "oci:%s:v1", dir);

    capstan_request *req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_add_image(req, image) == CAPSTAN_OK);
    CHECK(capstan_request_add_pack(req, "secrets") == CAPSTAN_OK);
    CHECK(capstan_request_set_ignore_discovery(req, false) == CAPSTAN_OK);
    CHECK(capstan_request_set_platform(req, "linux/arm64/v8") == CAPSTAN_OK);
    CHECK(capstan_request_set_platform(req, NULL) == CAPSTAN_OK); /* back to the host's */
    CHECK(capstan_request_set_pulls(req, 1) == CAPSTAN_OK);
    CHECK(capstan_request_set_insecure(req, false) == CAPSTAN_OK);
    snprintf(path, sizeof path, "%s/image-cache", tmp);
    CHECK(capstan_request_set_cache_dir(req, path) == CAPSTAN_OK);
    /* Files and images are not mixed in one request. */
    CHECK(capstan_request_add_input(req, dir) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "one kind"));
    capstan_findings *f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    check_image_findings(f, image, &w);
    CHECK(capstan_findings_layers_pulled(f) == 2 && capstan_findings_layers_cached(f) == 0);
    CHECK(capstan_findings_layers_shared(f) == 0);
    char *json = NULL;
    CHECK(capstan_findings_to_json(f, &json) == CAPSTAN_OK);
    CHECK(contains(json, "\"removed_in_layer\":1") && contains(json, w.layers[1]));
    capstan_string_free(json);
    capstan_findings_free(f);
    /* Again: both layers come from the cache, with the same findings. */
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    check_image_findings(f, image, &w);
    CHECK(capstan_findings_layers_pulled(f) == 0 && capstan_findings_layers_cached(f) == 2);
    capstan_findings_free(f);
    /* An image that is not there does not fail the run: it is listed. */
    char missing[700];
    snprintf(missing, sizeof missing, "oci:%s/nope", tmp);
    CHECK(capstan_request_add_image(req, missing) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 3 && capstan_findings_errors_len(f) == 1);
    CHECK(contains(capstan_findings_error(f, 0), missing));
    capstan_findings_free(f);
    capstan_request_free(req);

    /* Settings out of range, references that are not, a request with inputs. */
    req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_add_image(req, "Alpine") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "Alpine"));
    CHECK(capstan_request_add_image(req, "oci:") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_image(req, "\xff") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_image(req, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_platform(req, "linux") == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "linux/amd64"));
    CHECK(capstan_request_set_pulls(req, 0) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_pulls(req, 1025) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "1025"));
    CHECK(capstan_request_set_insecure(NULL, true) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_add_input(req, dir) == CAPSTAN_OK);
    CHECK(capstan_request_add_image(req, image) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "one kind"));
    capstan_request_free(req);

    /* The short form, with shared rules. */
    capstan_rules *secrets = NULL;
    CHECK(capstan_rules_builtin("secrets", &secrets) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_scan_image(secrets, image, 2, &f) == CAPSTAN_OK);
    check_image_findings(f, image, &w);
    CHECK(capstan_findings_layers_pulled(f) == 2);
    capstan_findings_free(f);
    f = NULL;
    CHECK(capstan_scan_image(secrets, missing, 0, &f) == CAPSTAN_ERR_IO && f == NULL);
    CHECK(contains(capstan_last_error(), missing));
    CHECK(capstan_scan_image(secrets, "Alpine", 0, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_image(secrets, image, 100000, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_image(NULL, image, 0, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_image(secrets, image, 0, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(f == NULL);

    /* Findings of files have no image origin. */
    CHECK(capstan_scan_bytes(secrets, (const uint8_t *)TOKEN_LINE, strlen(TOKEN_LINE), ".env",
                             &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) >= 1);
    CHECK(capstan_findings_image(f, 0) == NULL && capstan_findings_manifest_digest(f, 0) == NULL);
    CHECK(capstan_findings_layer_index(f, 0) == -1 && capstan_findings_layer_digest(f, 0) == NULL);
    CHECK(capstan_findings_removed_in_layer(f, 0) == -1 && capstan_findings_platform(f, 0) == NULL);
    CHECK(capstan_findings_layers_pulled(f) == 0);
    capstan_findings_free(f);
    capstan_rules_free(secrets);
    CHECK(capstan_findings_image(NULL, 0) == NULL && capstan_findings_layer_index(NULL, 0) == -1);
    CHECK(capstan_findings_layers_pulled(NULL) == 0 && capstan_findings_layers_cached(NULL) == 0);
}

/* --- Git history: a repository made here with the git CLI, isolated from the user's and the
 * system's configuration. --- */

static const char *const GIT_DATES[2] = {"2026-01-02T03:04:05+01:00", "2026-01-03T10:00:00-05:00"};

/* Runs `git ARGS` in repo as Capstan Test <test@example.invalid> at date (author and
 * committer); exits on failure. */
static void git(const char *repo, const char *date, const char *args) {
    char cmd[1200];
    setenv("GIT_AUTHOR_DATE", date, 1);
    setenv("GIT_COMMITTER_DATE", date, 1);
    snprintf(cmd, sizeof cmd,
             "git -C '%s' -c init.defaultBranch=main -c 'user.name=Capstan Test' "
             "-c user.email=test@example.invalid -c commit.gpgsign=false %s",
             repo, args);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        exit(2);
    }
}

/* `git rev-parse REV` in repo, into out (41 bytes). */
static void rev_parse(const char *repo, const char *rev, char out[41]) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse '%s'", repo, rev);
    FILE *p = popen(cmd, "r");
    out[0] = '\0';
    if (p == NULL || fgets(out, 41, p) == NULL || strlen(out) != 40) {
        fprintf(stderr, "failed: %s\n", cmd);
        exit(2);
    }
    pclose(p);
}

/* The one finding of the repository's history: token 0 in app/.env, at the commit that added
 * it (its blob is in no other). */
static void check_git_finding(const capstan_findings *f, const char *added) {
    CHECK(capstan_findings_len(f) == 1 && capstan_findings_errors_len(f) == 0);
    CHECK(capstan_findings_commits(f) == 2);
    capstan_finding one;
    CHECK(capstan_findings_get(f, 0, &one) == CAPSTAN_OK);
    CHECK(same(one.path, "app/.env") && one.line == 1 && contains(one.rule_id, "github"));
    CHECK(!contains(one.secret, "8kTqZ2vXw9"));
    CHECK(same(capstan_findings_commit(f, 0), added));
    CHECK(same(capstan_findings_author(f, 0), "Capstan Test"));
    CHECK(same(capstan_findings_email(f, 0), "test@example.invalid"));
    CHECK(same(capstan_findings_date(f, 0), GIT_DATES[0]));
    CHECK(same(capstan_findings_message(f, 0), "Add the app's config"));
    CHECK(capstan_findings_image(f, 0) == NULL && capstan_findings_layers_pulled(f) == 0);
    CHECK(capstan_findings_commit(f, 1) == NULL && capstan_findings_author(f, 1) == NULL);
    CHECK(capstan_findings_message(f, 1) == NULL);
}

static void test_git(const char *tmp) {
    char repo[512], path[700], line[200], added[41];
    /* Nothing of the user's or the system's git configuration applies, here or in git. */
    char home[600];
    snprintf(home, sizeof home, "%s/git-home", tmp);
    mkdir(home, 0755);
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", home, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");

    /* A first commit adds app/.env (token 0), a second removes it. */
    snprintf(repo, sizeof repo, "%s/repo", tmp);
    mkdir(repo, 0755);
    snprintf(path, sizeof path, "%s/app", repo);
    mkdir(path, 0755);
    git(repo, GIT_DATES[0], "init -q");
    snprintf(line, sizeof line, "GITHUB_TOKEN=%s\n", TOKENS[0]);
    write_in(repo, "app/.env", line);
    write_in(repo, "README", "hello\n");
    git(repo, GIT_DATES[0], "add .");
    git(repo, GIT_DATES[0], "commit -q -m \"Add the app's config\"");
    rev_parse(repo, "HEAD", added);
    git(repo, GIT_DATES[1], "rm -q app/.env");
    git(repo, GIT_DATES[1], "commit -q -m 'Remove the token'");

    capstan_request *req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_set_git(req, repo, NULL, NULL, false) == CAPSTAN_OK);
    CHECK(capstan_request_add_pack(req, "secrets") == CAPSTAN_OK);
    CHECK(capstan_request_set_ignore_discovery(req, false) == CAPSTAN_OK);
    CHECK(capstan_request_set_threads(req, 2) == CAPSTAN_OK);
    snprintf(path, sizeof path, "%s/git-cache", tmp);
    CHECK(capstan_request_set_cache_dir(req, path) == CAPSTAN_OK);
    /* A repository is not mixed with files or images. */
    CHECK(capstan_request_add_input(req, repo) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "one kind"));
    CHECK(capstan_request_add_image(req, "alpine") == CAPSTAN_ERR_INVALID_ARGUMENT);
    /* Twice: the second run answers the blobs from the cache, with the same finding. */
    for (int run = 0; run < 2; run++) {
        capstan_findings *f = NULL;
        CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
        check_git_finding(f, added);
        char *json = NULL;
        CHECK(capstan_findings_to_json(f, &json) == CAPSTAN_OK);
        snprintf(line, sizeof line, "\"git\":{\"commit\":\"%s\",\"author\":\"Capstan Test\"", added);
        CHECK(contains(json, line));
        capstan_string_free(json);
        capstan_findings_free(f);
    }

    /* A staged file (token 1): not history; staged alone finds it, with no commit. */
    snprintf(line, sizeof line, "GITHUB_TOKEN=%s\n", TOKENS[1]);
    write_in(repo, "staged.env", line);
    git(repo, GIT_DATES[1], "add staged.env");
    capstan_findings *f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    check_git_finding(f, added);
    capstan_findings_free(f);
    CHECK(capstan_request_set_git(req, repo, NULL, NULL, true) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 1 && capstan_findings_commits(f) == 0);
    capstan_finding one;
    CHECK(capstan_findings_get(f, 0, &one) == CAPSTAN_OK && same(one.path, "staged.env"));
    CHECK(capstan_findings_commit(f, 0) == NULL && capstan_findings_date(f, 0) == NULL);
    capstan_findings_free(f);

    /* After the commit that added it, the token is not new; main reaches it. */
    CHECK(capstan_request_set_git(req, repo, added, NULL, false) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 0 && capstan_findings_commits(f) == 1);
    capstan_findings_free(f);
    CHECK(capstan_request_set_git(req, repo, NULL, "main", false) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    check_git_finding(f, added);
    capstan_findings_free(f);
    /* A revision that does not resolve, a directory that is not a repository: listed. */
    CHECK(capstan_request_set_git(req, repo, "no-such-tag", NULL, false) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 0 && capstan_findings_errors_len(f) == 1);
    CHECK(contains(capstan_findings_error(f, 0), "no-such-tag"));
    capstan_findings_free(f);
    CHECK(capstan_request_set_git(req, home, NULL, NULL, false) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_request_run(req, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) == 0 && capstan_findings_errors_len(f) == 1);
    CHECK(contains(capstan_findings_error(f, 0), home));
    capstan_findings_free(f);

    /* Settings that are refused, leaving the request as it was. */
    CHECK(capstan_request_set_git(req, NULL, NULL, NULL, false) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_git(req, "", NULL, NULL, false) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_git(req, repo, "", NULL, false) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_git(req, repo, NULL, "\xff", false) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_request_set_git(req, repo, "v1", NULL, true) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "staged"));
    CHECK(capstan_request_set_git(NULL, repo, NULL, NULL, false) == CAPSTAN_ERR_INVALID_ARGUMENT);
    capstan_request_free(req);
    req = NULL;
    CHECK(capstan_request_new(&req) == CAPSTAN_OK);
    CHECK(capstan_request_add_input(req, repo) == CAPSTAN_OK);
    CHECK(capstan_request_set_git(req, repo, NULL, NULL, false) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(contains(capstan_last_error(), "one kind"));
    capstan_request_free(req);

    /* The short form, with shared rules. */
    capstan_rules *secrets = NULL;
    CHECK(capstan_rules_builtin("secrets", &secrets) == CAPSTAN_OK);
    f = NULL;
    CHECK(capstan_scan_git(secrets, repo, 2, &f) == CAPSTAN_OK);
    check_git_finding(f, added);
    capstan_findings_free(f);
    f = NULL;
    CHECK(capstan_scan_git(secrets, home, 0, &f) == CAPSTAN_ERR_IO && f == NULL);
    CHECK(contains(capstan_last_error(), home));
    CHECK(capstan_scan_git(secrets, repo, 100000, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_git(NULL, repo, 0, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_git(secrets, NULL, 0, &f) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_scan_git(secrets, repo, 0, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(f == NULL);
    /* Findings of files have no commit. */
    CHECK(capstan_scan_bytes(secrets, (const uint8_t *)TOKEN_LINE, strlen(TOKEN_LINE), ".env",
                             &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) >= 1 && capstan_findings_commit(f, 0) == NULL);
    CHECK(capstan_findings_email(f, 0) == NULL && capstan_findings_commits(f) == 0);
    capstan_findings_free(f);
    capstan_rules_free(secrets);
    CHECK(capstan_findings_commit(NULL, 0) == NULL && capstan_findings_commits(NULL) == 0);
}

struct sink {
    unsigned char *data;
    size_t len, cap;
    int fail_after;
    int calls;
};

static int32_t collect(void *user, const uint8_t *data, size_t len) {
    struct sink *s = user;
    s->calls++;
    if (s->fail_after >= 0 && s->fail_after-- == 0) {
        return 7;
    }
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
        if (s->data == NULL) {
            return 1;
        }
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

/* A build context in dir (made here): a Dockerfile, a .dockerignore leaving out *.log, app.txt
 * (sent) and debug.log (left out). */
static void make_context(const char *dir) {
    mkdir(dir, 0755);
    write_in(dir, "Dockerfile", "FROM scratch\nCOPY . /\n");
    write_in(dir, ".dockerignore", "*.log\n");
    write_in(dir, "app.txt", "hello\n");
    write_in(dir, "debug.log", "ignored\n");
}

static void test_context(const capstan_rules *r, const char *tmp) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/ctx", tmp);
    make_context(dir);

    struct sink s = {NULL, 0, 0, -1, 0};
    CHECK(capstan_context_write(dir, NULL, collect, &s) == CAPSTAN_OK);
    CHECK(s.len > 0 && s.len % 512 == 0);
    CHECK(memmem(s.data, s.len, "app.txt", 7) != NULL);
    CHECK(memmem(s.data, s.len, "debug.log", 9) == NULL);

    snprintf(path, sizeof path, "%s/ctx.tar", tmp);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(capstan_context_write_fd(dir, "Dockerfile", fd) == CAPSTAN_OK);
    close(fd);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (size_t)st.st_size == s.len);
    FILE *tar = fopen(path, "rb");
    unsigned char *copy = malloc(s.len);
    CHECK(tar != NULL && copy != NULL && fread(copy, 1, s.len, tar) == s.len);
    CHECK(copy != NULL && memcmp(copy, s.data, s.len) == 0); /* deterministic */
    free(copy);
    if (tar) fclose(tar);

    /* The callback can stop it; bad arguments are refused. */
    struct sink failing = {NULL, 0, 0, 0, 0};
    CHECK(capstan_context_write(dir, NULL, collect, &failing) == CAPSTAN_ERR_IO);
    CHECK(contains(capstan_last_error(), "returned 7"));
    CHECK(failing.calls == 1); /* never called again after refusing */
    free(failing.data);
    CHECK(capstan_context_write(dir, NULL, NULL, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_context_write_fd(dir, NULL, -1) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_context_write_fd(dir, "Nope.Dockerfile", 1) == CAPSTAN_ERR_IO);
    CHECK(contains(capstan_last_error(), "Nope.Dockerfile"));
    snprintf(path, sizeof path, "%s/no-such-dir", tmp);
    CHECK(capstan_context_write(path, NULL, collect, &s) == CAPSTAN_ERR_IO);

    /* The single pass: a secret stops the context, the findings still come back. */
    write_in(dir, ".env", TOKEN_LINE);
    struct sink scanned = {NULL, 0, 0, -1, 0};
    capstan_findings *f = NULL;
    CHECK(capstan_context_write_scan(r, dir, NULL, collect, &scanned, 2, false, &f) == CAPSTAN_OK);
    CHECK(capstan_findings_len(f) >= 1);
    capstan_findings_free(f);
    f = NULL;
    free(scanned.data);
    scanned = (struct sink){NULL, 0, 0, -1, 0};
    CHECK(capstan_context_write_scan(r, dir, NULL, collect, &scanned, 0, true, &f) ==
          CAPSTAN_ERR_FINDINGS_LIMIT);
    CHECK(capstan_findings_len(f) >= 1 && contains(capstan_last_error(), "not finished"));
    capstan_findings_free(f);
    free(scanned.data);
    free(s.data);
}

/* Reads all of r in reads of at most `chunk` bytes into *out (malloc'd, *len bytes); returns the
 * status of the read that ended it (CAPSTAN_OK: it ended with 0 bytes). */
static capstan_status read_all(capstan_context_reader *r, size_t chunk, unsigned char **out,
                               size_t *len) {
    unsigned char *buf = malloc(chunk); /* not initialised: capstan must not care */
    size_t cap = 0;
    *out = NULL;
    *len = 0;
    for (;;) {
        size_t n = (size_t)-1;
        capstan_status st = capstan_context_reader_read(r, buf, chunk, &n);
        if (st != CAPSTAN_OK) {
            CHECK(n == (size_t)-1); /* not written on failure */
            free(buf);
            return st;
        }
        CHECK(n <= chunk);
        if (n == 0 || n > chunk) {
            free(buf);
            return st;
        }
        if (*len + n > cap) {
            cap = (*len + n) * 2;
            *out = realloc(*out, cap);
            if (*out == NULL) {
                perror("realloc");
                exit(2);
            }
        }
        memcpy(*out + *len, buf, n);
        *len += n;
    }
}

static void test_context_reader(const char *tmp) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/rctx", tmp);
    make_context(dir);
    /* 1 MiB: more than the reader's queue holds, so the background writer waits on the reads. */
    char *big = malloc((1 << 20) + 1);
    for (size_t i = 0; i < (1 << 20); i++) {
        big[i] = "0123456789abcdef"[i % 16];
    }
    big[1 << 20] = '\0';
    write_in(dir, "big.bin", big);
    free(big);
    char zz[101];
    memset(zz, 'z', 100);
    zz[100] = '\0';
    write_in(dir, "zz.txt", zz);

    /* What capstan_context_write_fd writes. */
    snprintf(path, sizeof path, "%s/rctx.tar", tmp);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(capstan_context_write_fd(dir, NULL, fd) == CAPSTAN_OK);
    close(fd);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > (1 << 20));
    size_t want_len = (size_t)st.st_size;
    unsigned char *want = malloc(want_len);
    FILE *tar = fopen(path, "rb");
    CHECK(tar != NULL && want != NULL && fread(want, 1, want_len, tar) == want_len);
    if (tar) fclose(tar);

    /* Read in small chunks (not a multiple of 512): the same bytes. */
    capstan_context_reader *r = NULL;
    CHECK(capstan_context_reader_new(dir, NULL, &r) == CAPSTAN_OK && r != NULL);
    unsigned char *got = NULL;
    size_t got_len = 0;
    CHECK(read_all(r, 1000, &got, &got_len) == CAPSTAN_OK);
    CHECK(got_len == want_len && got != NULL && memcmp(got, want, want_len) == 0);
    unsigned char one[16];
    size_t n = 99;
    CHECK(capstan_context_reader_read(r, one, sizeof one, &n) == CAPSTAN_OK && n == 0);
    capstan_context_reader_free(r);
    free(got);

    /* A named Dockerfile, read in one big buffer: still the same bytes (64 KiB at most a read). */
    r = NULL;
    CHECK(capstan_context_reader_new(dir, "Dockerfile", &r) == CAPSTAN_OK);
    CHECK(read_all(r, 1 << 20, &got, &got_len) == CAPSTAN_OK);
    CHECK(got_len == want_len && got != NULL && memcmp(got, want, want_len) == 0);
    capstan_context_reader_free(r);
    free(got);

    /* Freed early: after a few bytes, and before any (the writer blocked on a full queue). */
    r = NULL;
    CHECK(capstan_context_reader_new(dir, NULL, &r) == CAPSTAN_OK);
    n = 0;
    CHECK(capstan_context_reader_read(r, one, sizeof one, &n) == CAPSTAN_OK && n == sizeof one);
    CHECK(memcmp(one, want, sizeof one) == 0);
    capstan_context_reader_free(r);
    r = NULL;
    CHECK(capstan_context_reader_new(dir, NULL, &r) == CAPSTAN_OK);
    usleep(100 * 1000); /* let the writer fill the queue */
    capstan_context_reader_free(r);
    capstan_context_reader_free(NULL);

    /* Bad arguments are refused and leave the out-parameters alone. */
    r = NULL;
    CHECK(capstan_context_reader_new(NULL, NULL, &r) == CAPSTAN_ERR_INVALID_ARGUMENT && r == NULL);
    CHECK(contains(capstan_last_error(), "dir"));
    CHECK(capstan_context_reader_new(dir, NULL, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_context_reader_new(dir, "Nope.Dockerfile", &r) == CAPSTAN_ERR_IO && r == NULL);
    CHECK(contains(capstan_last_error(), "Nope.Dockerfile"));
    snprintf(path, sizeof path, "%s/no-such-dir", tmp);
    CHECK(capstan_context_reader_new(path, NULL, &r) == CAPSTAN_ERR_IO && r == NULL);
    CHECK(capstan_context_reader_new(dir, NULL, &r) == CAPSTAN_OK);
    n = 99;
    CHECK(capstan_context_reader_read(NULL, one, sizeof one, &n) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_context_reader_read(r, NULL, sizeof one, &n) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_context_reader_read(r, one, 0, &n) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_context_reader_read(r, one, sizeof one, NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(n == 99);
    capstan_context_reader_free(r);

    /* A file that changed size after the selection: an I/O error naming it, on every later read
     * too (the writer is held up in big.bin long before it reaches zz.txt). */
    r = NULL;
    CHECK(capstan_context_reader_new(dir, NULL, &r) == CAPSTAN_OK);
    write_in(dir, "zz.txt", "short\n");
    CHECK(read_all(r, 4096, &got, &got_len) == CAPSTAN_ERR_IO);
    CHECK(contains(capstan_last_error(), "zz.txt") && contains(capstan_last_error(), "changed"));
    CHECK(got_len < want_len);
    n = 99;
    CHECK(capstan_context_reader_read(r, one, sizeof one, &n) == CAPSTAN_ERR_IO && n == 99);
    CHECK(contains(capstan_last_error(), "zz.txt"));
    capstan_context_reader_free(r);
    free(got);
    free(want);
}

static void test_auth(const char *tmp) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/docker", tmp);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/config.json", dir);
    /* "dXNlcjpwYXNz" is base64 of user:pass */
    write_file(path, "{\"auths\":{\"registry.example.com\":{\"auth\":\"dXNlcjpwYXNz\"}}}");
    setenv("DOCKER_CONFIG", dir, 1);
    setenv("HOME", tmp, 1);
    unsetenv("REGISTRY_AUTH_FILE");
    unsetenv("XDG_RUNTIME_DIR");
    char *h = NULL;
    CHECK(capstan_auth_header("registry.example.com/team/app:1", &h) == CAPSTAN_OK);
    /* {"username":"user","password":"pass","serveraddress":"registry.example.com"} */
    CHECK(h != NULL && strcmp(h, "eyJ1c2VybmFtZSI6InVzZXIiLCJwYXNzd29yZCI6InBhc3MiLCJzZXJ2ZXJhZGRyZXNzIjoicmVnaXN0cnkuZXhhbXBsZS5jb20ifQ==") == 0);
    capstan_string_free(h);
    h = NULL;
    CHECK(capstan_auth_header("other.example.com/app", &h) == CAPSTAN_OK);
    CHECK(h != NULL && strcmp(h, "e30=") == 0); /* anonymous: {} */
    capstan_string_free(h);
    h = NULL;
    CHECK(capstan_auth_header("UPPER/Case::bad", &h) == CAPSTAN_ERR_INVALID_ARGUMENT && h == NULL);
    CHECK(capstan_auth_header("\xff", &h) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_auth_header(NULL, &h) == CAPSTAN_ERR_INVALID_ARGUMENT);
    CHECK(capstan_auth_header("alpine", NULL) == CAPSTAN_ERR_INVALID_ARGUMENT);
    capstan_auth_clear();
}

struct worker {
    const capstan_rules *rules;
    int ok;
};

static void *scan_many(void *arg) {
    struct worker *w = arg;
    w->ok = 1;
    for (int i = 0; i < 200; i++) {
        capstan_findings *f = NULL;
        if (capstan_scan_bytes(w->rules, (const uint8_t *)TOKEN_LINE, strlen(TOKEN_LINE), ".env",
                               &f) != CAPSTAN_OK ||
            capstan_findings_len(f) < 1) {
            w->ok = 0;
        }
        capstan_findings_free(f);
        /* Errors are per thread: this failure is seen here only. */
        capstan_findings *none = NULL;
        if (capstan_scan_bytes(NULL, NULL, 0, NULL, &none) != CAPSTAN_ERR_INVALID_ARGUMENT ||
            capstan_last_error() == NULL) {
            w->ok = 0;
        }
    }
    return NULL;
}

static void test_threads(const capstan_rules *r) {
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){r, 0};
        CHECK(pthread_create(&t[i], NULL, scan_many, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].ok);
    }
}

int main(void) {
    char tmp[] = "/tmp/capstan-c-api-XXXXXX";
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    capstan_rules *r = NULL;
    if (capstan_rules_builtin(NULL, &r) != CAPSTAN_OK) {
        fprintf(stderr, "builtin rules: %s\n", capstan_last_error());
        return 2;
    }
    test_version_and_errors();
    test_toml_and_files(tmp);
    test_scan_and_stream(r);
    test_tree(r, tmp);
    test_request(r, tmp);
    test_image(tmp);
    test_git(tmp);
    test_context(r, tmp);
    test_context_reader(tmp);
    test_auth(tmp);
    test_threads(r);
    capstan_rules_free(r);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmp);
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("capstan C API: all checks passed\n");
    return 0;
}
