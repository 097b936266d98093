/*
 * The node -> port map: broker N on port_min-1+N, ids without a preferred port from the top of the
 * range, stability across reloads of the persisted file, exhaustion, and bad files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/portmap.h"

static char path[256];

static int
setup(void **state)
{
    snprintf(path, sizeof(path), "/tmp/st-portmap-test-%d.json", (int)getpid());
    unlink(path);
    return 0;
}

static int
teardown(void **state)
{
    unlink(path);
    return 0;
}

static void
test_preferred_and_top(void **state)
{
    struct st_portmap m;
    const char *err = NULL;
    assert_int_equal(st_portmap_load(&m, path, 14001, 14010, &err), 0);
    assert_int_equal(st_portmap_assign(&m, 1, &err), 14001);
    assert_int_equal(st_portmap_assign(&m, 3, &err), 14003);
    /* An id outside the range takes the highest free port, leaving 14004.. for brokers 4.. */
    assert_int_equal(st_portmap_assign(&m, 150, &err), 14010);
    assert_int_equal(st_portmap_assign(&m, 4, &err), 14004);
    /* Assigning again returns the same port. */
    assert_int_equal(st_portmap_assign(&m, 150, &err), 14010);
    assert_int_equal(st_portmap_node_of(&m, 14003), 3);
    assert_int_equal(st_portmap_node_of(&m, 14002), INT32_MIN);
    st_portmap_free(&m);

    /* A restart keeps every mapping. */
    assert_int_equal(st_portmap_load(&m, path, 14001, 14010, &err), 0);
    assert_int_equal(st_portmap_port_of(&m, 150), 14010);
    assert_int_equal(st_portmap_port_of(&m, 4), 14004);
    assert_int_equal(st_portmap_port_of(&m, 2), -1);
    st_portmap_free(&m);
}

static void
test_exhaustion(void **state)
{
    struct st_portmap m;
    const char *err = NULL;
    assert_int_equal(st_portmap_load(&m, path, 14001, 14002, &err), 0);
    assert_int_equal(st_portmap_assign(&m, 7, &err), 14002);
    assert_int_equal(st_portmap_assign(&m, 1, &err), 14001);
    assert_int_equal(st_portmap_assign(&m, 2, &err), -1);
    assert_non_null(err);
    st_portmap_free(&m);
}

static void
test_bad_file(void **state)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"nodes\": {\"1\": 14001, \"2\": 14001, \"x\": 14003, \"3\": 99}}", f);
    fclose(f);
    struct st_portmap m;
    const char *err = NULL;
    /* Duplicates, bad ids and out-of-range ports are dropped; the rest is kept. */
    assert_int_equal(st_portmap_load(&m, path, 14001, 14010, &err), 0);
    assert_int_equal(st_portmap_port_of(&m, 1), 14001);
    assert_int_equal(st_portmap_port_of(&m, 2), -1);
    assert_int_equal(st_portmap_port_of(&m, 3), -1);
    st_portmap_free(&m);

    f = fopen(path, "w");
    fputs("not json", f);
    fclose(f);
    assert_int_equal(st_portmap_load(&m, path, 14001, 14010, &err), -1);
    assert_non_null(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_preferred_and_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
