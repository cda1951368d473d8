/* test_passwd.c - the password store of the username credential: set, update,
 * check, refusals with their line, file mode, timing of unknown users, the
 * verified-password cache, and the `msgsec passwd` command. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "passwd.h"

static char dir[256]; /* a short mkdtemp path keeps every derived path in bounds */
static char store_path[sizeof dir + 64];

/* RFC 7914 section 12, third vector: scrypt("pleaseletmein", "SodiumChloride",
 * N=16384, r=8, p=1), first 64 bytes. Proves the hash is standard scrypt. */
static const char kat_line[] =
    "kat:scrypt:16384:8:1:U29kaXVtQ2hsb3JpZGU=:"
    "cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==";

static void write_text(const char *path, const char *text, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static char *read_text(const char *path)
{
    uint8_t *data;
    size_t len;
    assert_int_equal(read_file_bounded(path, 1 << 20, &data, &len, NULL), MSGSEC_OK);
    return (char *)data;
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/msgsec-passwd-XXXXXX", real[PATH_MAX];
    if (!mkdtemp(tmpl) || !realpath(tmpl, real) || strlen(real) >= sizeof dir)
        return -1;
    memcpy(dir, real, strlen(real) + 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh store path per test. */
static const char *fresh_store(const char *name)
{
    snprintf(store_path, sizeof store_path, "%s/%s", dir, name);
    unlink(store_path);
    return store_path;
}

static passwd_store *load(const char *path)
{
    passwd_store *store = NULL;
    msgsec_error err = {0};
    if (passwd_store_load(path, &store, &err) != MSGSEC_OK)
        fail_msg("load %s: %s", path, err.detail);
    return store;
}

static void test_set_and_check(void **state)
{
    const char *path = fresh_store("users");
    msgsec_error err = {0}, err2 = {0};
    int updated = -1;
    struct stat st;
    assert_int_equal(passwd_set(path, "alice", "correct horse", &updated, &err), MSGSEC_OK);
    assert_int_equal(updated, 0);
    assert_int_equal(passwd_set(path, "bob@EXAMPLE", "s3cret: with colon", NULL, &err), MSGSEC_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    char *text = read_text(path);
    assert_null(strstr(text, "correct horse"));
    assert_null(strstr(text, "s3cret"));
    /* NAME:scrypt:32768:8:1:SALT(16 bytes):HASH(32 bytes) */
    assert_int_equal(strncmp(text, "alice:scrypt:32768:8:1:", 23), 0);
    assert_int_equal(strcspn(text + 23, ":"), 24);
    assert_int_equal(strcspn(text + 23 + 25, "\n"), 44);
    assert_non_null(strstr(text, "\nbob@EXAMPLE:scrypt:32768:8:1:"));
    free(text);

    passwd_store *store = load(path);
    assert_int_equal(passwd_store_count(store), 2);
    assert_int_equal(passwd_check(store, "alice", "correct horse", &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "bob@EXAMPLE", "s3cret: with colon", &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "alice", "correct horse ", &err), MSGSEC_E_AUTH);
    assert_int_equal(passwd_check(store, "mallory", "correct horse", &err2), MSGSEC_E_AUTH);
    /* the answer does not tell which users exist */
    assert_string_equal(err.detail, err2.detail);
    assert_string_equal(err.detail, "unknown user or wrong password");
    assert_int_equal(passwd_check(store, "bob@EXAMPLE", "correct horse", &err), MSGSEC_E_AUTH);
    assert_int_equal(passwd_check(store, NULL, "x", &err), MSGSEC_E_AUTH);
    passwd_store_free(store);
    passwd_store_free(NULL);
}

static void test_update_keeps_other_lines(void **state)
{
    const char *path = fresh_store("users-kat");
    msgsec_error err = {0};
    int updated = -1;
    struct stat st;
    char before[512];
    snprintf(before, sizeof before, "# managed by msgsec passwd\n\n%s\n", kat_line);
    write_text(path, before, strlen(before), 0644);

    passwd_store *store = load(path);
    assert_int_equal(passwd_store_count(store), 1);
    assert_int_equal(passwd_check(store, "kat", "pleaseletmein", &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "kat", "pleaseletmeout", &err), MSGSEC_E_AUTH);
    passwd_store_free(store);

    /* add: everything before is kept byte for byte, the new user appended */
    assert_int_equal(passwd_set(path, "alice", "first", &updated, &err), MSGSEC_OK);
    assert_int_equal(updated, 0);
    char *text = read_text(path);
    assert_int_equal(strncmp(text, before, strlen(before)), 0);
    assert_int_equal(strncmp(text + strlen(before), "alice:scrypt:", 13), 0);
    free(text);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* tightened by the rewrite */

    /* update: the entry is replaced in place, the others untouched */
    assert_int_equal(passwd_set(path, "kat", "changed", &updated, &err), MSGSEC_OK);
    assert_int_equal(updated, 1);
    text = read_text(path);
    assert_int_equal(strncmp(text, "# managed by msgsec passwd\n\nkat:scrypt:32768:8:1:", 49), 0);
    assert_null(strstr(text, kat_line));
    char *alice = strstr(text, "\nalice:scrypt:");
    assert_non_null(alice);
    free(text);

    store = load(path);
    assert_int_equal(passwd_store_count(store), 2);
    assert_int_equal(passwd_check(store, "kat", "pleaseletmein", &err), MSGSEC_E_AUTH);
    assert_int_equal(passwd_check(store, "kat", "changed", &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "alice", "first", &err), MSGSEC_OK);
    passwd_store_free(store);
}

typedef struct bad_store {
    const char *text;
    int line;
    const char *reason;
} bad_store;

#define SALT16 "AAAAAAAAAAAAAAAAAAAAAA=="
#define HASH32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
static const bad_store bad_stores[] = {
    {"alice:scrypt:32768:8:1:" SALT16 "\n", 1, "expected NAME:scrypt:N:r:p:SALT:HASH"},
    {"# c\nalice:scrypt:32768:8:1:" SALT16 ":" HASH32 ":x\n", 2, "expected NAME:scrypt"},
    {"alice\n", 1, "expected NAME:scrypt"},
    {"alice:bcrypt:32768:8:1:" SALT16 ":" HASH32 "\n", 1, "unknown hash scheme"},
    {"alice:scrypt:30000:8:1:" SALT16 ":" HASH32 "\n", 1, "N must be a power of two"},
    {"alice:scrypt:1024:8:1:" SALT16 ":" HASH32 "\n", 1, "N must be a power of two"},
    {"alice:scrypt:2097152:8:1:" SALT16 ":" HASH32 "\n", 1, "N must be a power of two"},
    {"alice:scrypt:-32768:8:1:" SALT16 ":" HASH32 "\n", 1, "N must be a power of two"},
    {"alice:scrypt:32768:0:1:" SALT16 ":" HASH32 "\n", 1, "r must be in 1..32"},
    {"alice:scrypt:32768:8:17:" SALT16 ":" HASH32 "\n", 1, "p must be in 1..16"},
    {"alice:scrypt:1048576:8:1:" SALT16 ":" HASH32 "\n", 1, "more than 256 MiB"},
    {"alice:scrypt:32768:8:1:AAAA:" HASH32 "\n", 1, "salt must be base64 of 8..64 bytes"},
    {"alice:scrypt:32768:8:1:!!notbase64!!:" HASH32 "\n", 1, "salt must be base64"},
    {"alice:scrypt:32768:8:1:" SALT16 ":" SALT16 "\n", 1, "hash must be base64 of 32..64"},
    {":scrypt:32768:8:1:" SALT16 ":" HASH32 "\n", 1, "invalid user name"},
    {"a\tb:scrypt:32768:8:1:" SALT16 ":" HASH32 "\n", 1, "invalid user name"},
    {"alice:scrypt:32768:8:1:" SALT16 ":" HASH32 "\n\nalice:scrypt:32768:8:1:" SALT16 ":" HASH32
     "\n",
     3, "duplicate user 'alice' (first at line 1)"},
};

static void test_store_refusals(void **state)
{
    const char *path = fresh_store("bad");
    int failures = 0;
    for (size_t i = 0; i < sizeof bad_stores / sizeof bad_stores[0]; i++) {
        const bad_store *c = &bad_stores[i];
        passwd_store *store = (passwd_store *)1;
        msgsec_error err = {0};
        char where[PATH_MAX + 48];
        write_text(path, c->text, strlen(c->text), 0600);
        msgsec_err rc = passwd_store_load(path, &store, &err);
        snprintf(where, sizeof where, "%s:%d: ", path, c->line);
        if (rc != MSGSEC_E_USAGE || store != NULL || strncmp(err.detail, where, strlen(where)) ||
            !strstr(err.detail, c->reason))
            print_error("case %zu: rc %d detail \"%s\"; want line %d \"%s\"\n", i, rc, err.detail,
                        c->line, c->reason),
                failures++;
    }
    assert_int_equal(failures, 0);

    /* a NUL byte, a missing store */
    passwd_store *store;
    msgsec_error err = {0};
    write_text(path, "alice\0:scrypt\n", 14, 0600);
    assert_int_equal(passwd_store_load(path, &store, &err), MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, "NUL byte"));
    assert_int_equal(passwd_store_load(fresh_store("absent"), &store, &err), MSGSEC_E_USAGE);
    assert_null(store);
    assert_non_null(strstr(err.detail, "No such file or directory"));

    /* a store others could add users to */
    path = fresh_store("writable");
    write_text(path, kat_line, strlen(kat_line), 0620);
    assert_int_equal(passwd_store_load(path, &store, &err), MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, "is writable by group or others (mode 620)"));
    assert_int_equal(passwd_set(path, "bob", "pw", NULL, &err), MSGSEC_E_USAGE);
    assert_int_equal(chmod(path, 0644), 0); /* readable is fine: hashes, like /etc/shadow */
    store = load(path);
    passwd_store_free(store);

    /* passwd_set refuses to rewrite a malformed store and leaves it alone */
    path = fresh_store("bad2");
    write_text(path, bad_stores[4].text, strlen(bad_stores[4].text), 0644);
    assert_int_equal(passwd_set(path, "bob", "pw", NULL, &err), MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, ":1: scrypt N must be"));
    char *text = read_text(path);
    assert_string_equal(text, bad_stores[4].text);
    free(text);
}

static void test_set_refusals(void **state)
{
    const char *path = fresh_store("users-refusals");
    msgsec_error err = {0};
    char long_name[300], long_password[PASSWD_MAX_PASSWORD + 2];
    memset(long_name, 'u', 256);
    long_name[256] = '\0';
    memset(long_password, 'p', PASSWD_MAX_PASSWORD + 1);
    long_password[PASSWD_MAX_PASSWORD + 1] = '\0';
    const char *bad_users[] = {"", "a:b", "a\nb", "a\x7f", long_name, NULL};
    for (size_t i = 0; bad_users[i]; i++) {
        assert_int_equal(passwd_set(path, bad_users[i], "pw", NULL, &err), MSGSEC_E_USAGE);
        assert_non_null(strstr(err.detail, "invalid user name"));
    }
    assert_int_equal(passwd_set(path, NULL, "pw", NULL, &err), MSGSEC_E_USAGE);
    assert_int_equal(passwd_set(path, "alice", "", NULL, &err), MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, "the password must be 1..1024 bytes"));
    assert_int_equal(passwd_set(path, "alice", long_password, NULL, &err), MSGSEC_E_USAGE);
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */
    assert_int_equal(passwd_set("/nonexistent-dir/users", "alice", "pw", NULL, &err),
                     MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, "/nonexistent-dir/users"));
}

static double seconds_of_check(const passwd_store *store, const char *user, const char *pw,
                               msgsec_err want)
{
    struct timespec a, b;
    msgsec_error err;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(passwd_check(store, user, pw, &err), want);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* An unknown user costs the same scrypt as a wrong password. Minimum of a few
 * interleaved runs and a factor of 3, so a busy shared machine does not make
 * it flaky; without the dummy hash the ratio would be ~1000, not ~1. */
static void test_timing_unknown_vs_wrong(void **state)
{
    const char *path = fresh_store("users-timing");
    msgsec_error err;
    assert_int_equal(passwd_set(path, "alice", "right", NULL, &err), MSGSEC_OK);
    passwd_store *store = load(path);
    double wrong = 1e9, unknown = 1e9;
    for (int i = 0; i < 3; i++) {
        double w = seconds_of_check(store, "alice", "wrong", MSGSEC_E_AUTH);
        double u = seconds_of_check(store, "nobody", "wrong", MSGSEC_E_AUTH);
        wrong = w < wrong ? w : wrong;
        unknown = u < unknown ? u : unknown;
    }
    passwd_store_free(store);
    print_message("wrong password %.1f ms, unknown user %.1f ms (min of 3)\n", wrong * 1e3,
                  unknown * 1e3);
    assert_true(unknown > wrong / 3 && unknown < wrong * 3);
}

/* The verified-password cache: a pair that passed scrypt is accepted again
 * without it (>= 10x faster: scrypt N=32768 is ~100 ms, a hit ~10 us); a wrong
 * password, another user with the same password and an unknown user still
 * cost the full scrypt and fail; entries expire after the TTL and the oldest
 * is replaced when the cache is full; without a cache every check is slow. */
static void test_verified_cache(void **state)
{
    const char *path = fresh_store("users-cache");
    msgsec_error err;
    assert_int_equal(passwd_set(path, "alice", "alice-pw", NULL, &err), MSGSEC_OK);
    assert_int_equal(passwd_set(path, "bob", "bob-pw", NULL, &err), MSGSEC_OK);
    assert_int_equal(passwd_set(path, "carol", "carol-pw", NULL, &err), MSGSEC_OK);
    passwd_store *store = load(path);

    double first = seconds_of_check(store, "alice", "alice-pw", MSGSEC_OK);
    double again = seconds_of_check(store, "alice", "alice-pw", MSGSEC_OK);
    print_message("first check %.1f ms, cached %.3f ms\n", first * 1e3, again * 1e3);
    assert_true(again < first / 10);
    double wrong = seconds_of_check(store, "alice", "alice-pw ", MSGSEC_E_AUTH);
    assert_true(wrong > again * 10);
    assert_true(seconds_of_check(store, "bob", "alice-pw", MSGSEC_E_AUTH) > again * 10);
    assert_true(seconds_of_check(store, "nobody", "alice-pw", MSGSEC_E_AUTH) > again * 10);
    assert_int_equal(passwd_check(store, "alice", "", &err), MSGSEC_E_AUTH);
    assert_int_equal(passwd_check(store, "alic", "ealice-pw", &err), MSGSEC_E_AUTH);

    /* two slots: a third verified user evicts the oldest */
    assert_int_equal(passwd_store_cache(store, 2, 300, &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "alice", "alice-pw", &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "bob", "bob-pw", &err), MSGSEC_OK);
    assert_true(seconds_of_check(store, "bob", "bob-pw", MSGSEC_OK) < first / 10);
    assert_int_equal(passwd_check(store, "carol", "carol-pw", &err), MSGSEC_OK);
    assert_true(seconds_of_check(store, "alice", "alice-pw", MSGSEC_OK) > first / 10);

    /* TTL: one second */
    assert_int_equal(passwd_store_cache(store, 4, 1, &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "bob", "bob-pw", &err), MSGSEC_OK);
    assert_true(seconds_of_check(store, "bob", "bob-pw", MSGSEC_OK) < first / 10);
    sleep(2);
    assert_true(seconds_of_check(store, "bob", "bob-pw", MSGSEC_OK) > first / 10);

    /* no cache */
    assert_int_equal(passwd_store_cache(store, 0, 0, &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "bob", "bob-pw", &err), MSGSEC_OK);
    assert_true(seconds_of_check(store, "bob", "bob-pw", MSGSEC_OK) > first / 10);
    passwd_store_free(store);
}

/* Path of the msgsec command: $MSGSEC_BIN, else BUILD/common/msgsec next to
 * this test's BUILD/tests/unit/. */
static void msgsec_bin(char *out, size_t size)
{
    const char *env = getenv("MSGSEC_BIN");
    char exe[PATH_MAX];
    if (env) {
        snprintf(out, size, "%s", env);
        return;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    for (int up = 0; up < 3; up++)
        *strrchr(exe, '/') = '\0';
    snprintf(out, size, "%.*s/common/msgsec", (int)(size - 16), exe);
}

/* Runs `msgsec passwd ARGS < stdin_file`; returns the exit code. */
static int run_passwd(const char *args, const char *stdin_text, char *stderr_text, size_t size)
{
    char bin[PATH_MAX], in[PATH_MAX + 16], errf[PATH_MAX + 16], outf[PATH_MAX + 16];
    char cmd[4 * PATH_MAX + 128];
    msgsec_bin(bin, sizeof bin);
    snprintf(in, sizeof in, "%s/stdin", dir);
    snprintf(errf, sizeof errf, "%s/stderr", dir);
    snprintf(outf, sizeof outf, "%s/stdout", dir);
    write_text(in, stdin_text, strlen(stdin_text), 0600);
    snprintf(cmd, sizeof cmd, "'%s' passwd %s <'%s' >'%s' 2>'%s'", bin, args, in, outf, errf);
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    char *out = read_text(outf), *err = read_text(errf);
    assert_string_equal(out, ""); /* nothing on stdout, ever */
    snprintf(stderr_text, size, "%s", err);
    assert_non_null(strchr(stderr_text, '\n'));
    assert_ptr_equal(strchr(stderr_text, '\n'), stderr_text + strlen(stderr_text) - 1);
    free(out);
    free(err);
    return WEXITSTATUS(status);
}

static void test_cli_round_trip(void **state)
{
    const char *path = fresh_store("users-cli");
    char args[PATH_MAX + 64], err_line[1024];
    msgsec_error err;
    struct stat st;

    snprintf(args, sizeof args, "'%s' carol", path);
    assert_int_equal(
        run_passwd(args, "Tr0ub4dor&3\nignored second line\n", err_line, sizeof err_line), 0);
    assert_non_null(strstr(err_line, "added user 'carol'"));
    assert_null(strstr(err_line, "Tr0ub4dor"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    passwd_store *store = load(path);
    assert_int_equal(passwd_check(store, "carol", "Tr0ub4dor&3", &err), MSGSEC_OK);
    assert_int_equal(passwd_check(store, "carol", "ignored second line", &err), MSGSEC_E_AUTH);
    passwd_store_free(store);

    /* CRLF input: the CR is not part of the password */
    assert_int_equal(run_passwd(args, "n3w\r\n", err_line, sizeof err_line), 0);
    assert_non_null(strstr(err_line, "updated user 'carol'"));
    store = load(path);
    assert_int_equal(passwd_check(store, "carol", "n3w", &err), MSGSEC_OK);
    passwd_store_free(store);

    /* usage errors: exit 2, one line, the store untouched */
    char *before = read_text(path);
    assert_int_equal(run_passwd(args, "\n", err_line, sizeof err_line), 2);
    assert_non_null(strstr(err_line, "msgsec: passwd: "));
    assert_int_equal(run_passwd(args, "", err_line, sizeof err_line), 2);
    snprintf(args, sizeof args, "'%s'", path);
    assert_int_equal(run_passwd(args, "pw\n", err_line, sizeof err_line), 2);
    assert_non_null(strstr(err_line, "expected FILE and USER"));
    snprintf(args, sizeof args, "'%s' 'x:y'", path);
    assert_int_equal(run_passwd(args, "pw\n", err_line, sizeof err_line), 2);
    assert_non_null(strstr(err_line, "invalid user name"));
    assert_int_equal(run_passwd("--bogus", "pw\n", err_line, sizeof err_line), 2);
    char *after = read_text(path);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* a malformed store: exit 2 naming FILE:LINE */
    const char *bad = fresh_store("users-cli-bad");
    write_text(bad, "ok-comment\n", 11, 0600);
    snprintf(args, sizeof args, "'%s' dave", bad);
    assert_int_equal(run_passwd(args, "pw\n", err_line, sizeof err_line), 2);
    char where[PATH_MAX + 64];
    snprintf(where, sizeof where, "%s:1: expected NAME:scrypt", bad);
    assert_non_null(strstr(err_line, where));
}

/* Concurrent runs are serialized: every user lands in the store. Without the
 * lock each run would rewrite the file it read before its ~0.3 s of scrypt. */
static void test_cli_concurrent_updates(void **state)
{
    const char *path = fresh_store("users-concurrent");
    char bin[PATH_MAX], cmd[2 * PATH_MAX + 512];
    msgsec_error err;
    msgsec_bin(bin, sizeof bin);
    snprintf(cmd, sizeof cmd,
             "for u in u1 u2 u3 u4; do echo \"pw-$u\" | '%s' passwd '%s' $u 2>/dev/null & done; "
             "wait",
             bin, path);
    assert_int_equal(system(cmd), 0);
    passwd_store *store = load(path);
    assert_int_equal(passwd_store_count(store), 4);
    assert_int_equal(passwd_check(store, "u3", "pw-u3", &err), MSGSEC_OK);
    passwd_store_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_check),
        cmocka_unit_test(test_update_keeps_other_lines),
        cmocka_unit_test(test_store_refusals),
        cmocka_unit_test(test_set_refusals),
        cmocka_unit_test(test_timing_unknown_vs_wrong),
        cmocka_unit_test(test_verified_cache),
        cmocka_unit_test(test_cli_round_trip),
        cmocka_unit_test(test_cli_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
