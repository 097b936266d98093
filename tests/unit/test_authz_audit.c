/*
 * Audit log writer tests: records are JSON lines with the documented keys in order, odd names
 * (quotes, backslashes, newlines, control characters, UTF-8 and invalid UTF-8) stay parseable,
 * allowed decisions are only recorded with all_decisions, size rotation keeps FILE.1..FILE.keep,
 * the file is recreated after an external removal or rename, and the file is created 0600.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "authz/audit.h"

static char dir[256];
static char path[512];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/st_authz_audit.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    return 0;
}

static int
teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct st_audit_record
deny_record(void)
{
    struct st_audit_record r = {
        .time_ms = 1795770000123,
        .conn_id = 42,
        .principal = "arn:aws:iam::444455556666:user/dev",
        .auth = "SASL_IAM",
        .source = "10.1.0.5:53122",
        .endpoint = "10.0.0.9:14001",
        .vpc_connection = "arn:aws:kafka:us-east-1:444455556666:vpc-connection/111122223333/c/x",
        .cluster = "arn:aws:kafka:us-east-1:111122223333:cluster/c/x",
        .api = "Produce",
        .api_version = 9,
        .action = "kafka-cluster:WriteData",
        .resource = "arn:aws:kafka:us-east-1:111122223333:topic/c/x/payments",
        .allowed = false,
        .reason = "no statement allows kafka-cluster:WriteData",
    };
    return r;
}

/* Reads every line of f as JSON; returns an array (json_decref) and checks each parses. */
static json_t *
read_lines(const char *f)
{
    FILE *fp = fopen(f, "r");
    json_t *arr = json_array();
    if (!fp)
        return arr;
    char line[65536];
    while (fgets(line, sizeof(line), fp)) {
        size_t l = strlen(line);
        assert_true(l > 0 && line[l - 1] == '\n');
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j)
            fail_msg("line does not parse: %s (%s)", line, jerr.text);
        json_array_append_new(arr, j);
    }
    fclose(fp);
    return arr;
}

static const char *
js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
test_record(void **state)
{
    const char *err = NULL;
    struct st_audit_opts o = {.path = path};
    struct st_audit *a = st_audit_open(&o, &err);
    assert_non_null(a);
    assert_false(st_audit_all(a));
    assert_string_equal(st_audit_path(a), path);
    assert_int_equal(st_audit_keep(a), 5);
    assert_int_equal(st_audit_max_bytes(a), 64ull << 20);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    struct st_audit_record r = deny_record();
    st_audit_write(a, &r);
    r.vpc_connection = NULL; /* NULL members are left out */
    r.reason = NULL;
    r.conn_id = 7;
    st_audit_write(a, &r);
    st_audit_close(a);

    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 2);
    json_t *j = json_array_get(lines, 0);
    assert_string_equal(js(j, "time"), "2026-11-27T09:00:00.123Z");
    assert_string_equal(js(j, "conn"), "C-42");
    assert_string_equal(js(j, "principal"), "arn:aws:iam::444455556666:user/dev");
    assert_string_equal(js(j, "auth"), "SASL_IAM");
    assert_string_equal(js(j, "source"), "10.1.0.5:53122");
    assert_string_equal(js(j, "endpoint"), "10.0.0.9:14001");
    assert_non_null(js(j, "vpcConnection"));
    assert_non_null(js(j, "cluster"));
    assert_string_equal(js(j, "api"), "Produce");
    assert_int_equal(json_integer_value(json_object_get(j, "apiVersion")), 9);
    assert_string_equal(js(j, "action"), "kafka-cluster:WriteData");
    assert_string_equal(js(j, "decision"), "DENY");
    assert_string_equal(js(j, "reason"), "no statement allows kafka-cluster:WriteData");
    /* keys in the documented order */
    static const char *order[] = {"time",     "conn",          "principal", "auth",  "source",
                                  "endpoint", "vpcConnection", "cluster",   "api",   "apiVersion",
                                  "action",   "resource",      "decision",  "reason"};
    FILE *fp = fopen(path, "r");
    char line[4096];
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    const char *p = line;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "\"%s\":", order[i]);
        const char *q = strstr(p, key);
        if (!q)
            fail_msg("key %s missing or out of order in %s", order[i], line);
        p = q;
    }
    json_t *k = json_array_get(lines, 1);
    assert_string_equal(js(k, "conn"), "C-7");
    assert_null(json_object_get(k, "vpcConnection"));
    assert_null(json_object_get(k, "reason"));
    json_decref(lines);
}

static void
test_escaping(void **state)
{
    const char *err = NULL;
    struct st_audit_opts o = {.path = path};
    struct st_audit *a = st_audit_open(&o, &err);
    assert_non_null(a);
    struct st_audit_record r = deny_record();
    r.principal = "User:\"bob\"\\admin";
    r.resource = "TOPIC:line1\nline2\r\t\x01\x1f\x7f end";
    r.reason = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";        /* café € 😀 */
    r.action = "bad\xff\xc3(\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80"; /* invalid UTF-8 */
    r.time_ms = 0;                                                 /* now */
    st_audit_write(a, &r);
    st_audit_close(a);

    FILE *fp = fopen(path, "r");
    char raw[4096];
    assert_non_null(fgets(raw, sizeof(raw), fp));
    assert_null(fgets(raw + strlen(raw), (int)(sizeof(raw) - strlen(raw)), fp)); /* one line */
    fclose(fp);
    for (const char *c = raw; *c && *c != '\n'; c++)
        assert_true((unsigned char)*c >= 0x20 && *c != 0x7f);

    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 1);
    json_t *j = json_array_get(lines, 0);
    assert_string_equal(js(j, "principal"), "User:\"bob\"\\admin");
    assert_string_equal(js(j, "resource"), "TOPIC:line1\nline2\r\t\x01\x1f\x7f end");
    assert_string_equal(js(j, "reason"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    const char *act = js(j, "action");
    assert_non_null(act);
    assert_true(strncmp(act, "bad\xef\xbf\xbd", 6) == 0);
    assert_non_null(strchr(act, '('));
    const char *t = js(j, "time");
    assert_int_equal(strlen(t), 24);
    assert_true(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
    json_decref(lines);
}

static void
test_all_decisions(void **state)
{
    const char *err = NULL;
    struct st_audit_opts o = {.path = path};
    struct st_audit *a = st_audit_open(&o, &err);
    assert_non_null(a);
    struct st_audit_record r = deny_record();
    r.allowed = true;
    st_audit_write(a, &r); /* skipped */
    r.allowed = false;
    st_audit_write(a, &r);
    st_audit_close(a);

    o.all_decisions = true;
    a = st_audit_open(&o, &err);
    assert_non_null(a);
    assert_true(st_audit_all(a));
    r.allowed = true;
    r.reason = "statement AllowWrite";
    st_audit_write(a, &r);
    st_audit_write(NULL, &r); /* no writer: nothing */
    st_audit_close(a);

    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(js(json_array_get(lines, 0), "decision"), "DENY");
    assert_string_equal(js(json_array_get(lines, 1), "decision"), "ALLOW");
    json_decref(lines);
}

static size_t
count_lines(const char *f)
{
    json_t *l = read_lines(f);
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

static void
test_rotation(void **state)
{
    const char *err = NULL;
    struct st_audit_record r = deny_record();
    struct st_audit_opts o = {.path = path, .max_bytes = 1, .keep = 2};
    struct st_audit *a = st_audit_open(&o, &err);
    assert_non_null(a);
    /* max_bytes smaller than a record: one record per file */
    char conn[5][8];
    for (int i = 0; i < 5; i++) {
        r.conn_id = (uint64_t)i;
        snprintf(conn[i], sizeof(conn[i]), "C-%d", i);
        st_audit_write(a, &r);
    }
    st_audit_close(a);
    char f1[600], f2[600], f3[600];
    snprintf(f1, sizeof(f1), "%s.1", path);
    snprintf(f2, sizeof(f2), "%s.2", path);
    snprintf(f3, sizeof(f3), "%s.3", path);
    json_t *l0 = read_lines(path), *l1 = read_lines(f1), *l2 = read_lines(f2);
    assert_int_equal(json_array_size(l0), 1);
    assert_int_equal(json_array_size(l1), 1);
    assert_int_equal(json_array_size(l2), 1);
    assert_string_equal(js(json_array_get(l0, 0), "conn"), "C-4");
    assert_string_equal(js(json_array_get(l1, 0), "conn"), "C-3");
    assert_string_equal(js(json_array_get(l2, 0), "conn"), "C-2");
    assert_int_not_equal(access(f3, F_OK), 0); /* oldest dropped */
    json_decref(l0);
    json_decref(l1);
    json_decref(l2);

    /* a threshold of three records: three per file */
    teardown(state);
    setup(state);
    a = st_audit_open(&o, &err);
    assert_non_null(a);
    st_audit_write(a, &r);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    st_audit_close(a);
    unlink(path);
    o.max_bytes = (uint64_t)st.st_size * 3;
    a = st_audit_open(&o, &err);
    for (int i = 0; i < 7; i++)
        st_audit_write(a, &r);
    st_audit_close(a);
    snprintf(f1, sizeof(f1), "%s.1", path);
    snprintf(f2, sizeof(f2), "%s.2", path);
    assert_int_equal(count_lines(path), 1);
    assert_int_equal(count_lines(f1), 3);
    assert_int_equal(count_lines(f2), 3);
    assert_int_equal(stat(f2, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_reopen(void **state)
{
    const char *err = NULL;
    struct st_audit_opts o = {.path = path};
    struct st_audit *a = st_audit_open(&o, &err);
    assert_non_null(a);
    struct st_audit_record r = deny_record();
    st_audit_write(a, &r);
    /* removed from under us */
    assert_int_equal(unlink(path), 0);
    st_audit_write(a, &r);
    assert_int_equal(count_lines(path), 1);
    /* renamed away (logrotate without copytruncate) */
    char moved[600];
    snprintf(moved, sizeof(moved), "%s.moved", path);
    assert_int_equal(rename(path, moved), 0);
    st_audit_write(a, &r);
    st_audit_write(a, &r);
    assert_int_equal(count_lines(moved), 1);
    assert_int_equal(count_lines(path), 2);
    /* the directory disappears: not fatal, records dropped, later ones written again */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    st_audit_write(a, &r);
    assert_int_equal(mkdir(dir, 0700), 0);
    st_audit_write(a, &r);
    assert_int_equal(count_lines(path), 1);
    st_audit_close(a);
}

static void
test_open_errors(void **state)
{
    const char *err = NULL;
    struct st_audit_opts o = {.path = "/nonexistent-dir-st/audit.log"};
    assert_null(st_audit_open(&o, &err));
    assert_non_null(err);
    err = NULL;
    o.path = "";
    assert_null(st_audit_open(&o, &err));
    assert_non_null(err);
    st_audit_close(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
