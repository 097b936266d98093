/*
 * Latency histograms (src/gateway/cluster.c): an observation lands in the first bucket whose
 * bound it does not exceed (bounds inclusive, as Prometheus' `le`), above the last bound in
 * `over`; count and sum follow every observation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/gateway.h"

static void
test_buckets(void **state)
{
    (void)state;
    assert_int_equal(st_gw_hist_bucket(0), 0);
    assert_int_equal(st_gw_hist_bucket(10000), 0); /* 10 us: le 0.00001 */
    assert_int_equal(st_gw_hist_bucket(10001), 1);
    assert_int_equal(st_gw_hist_bucket(1000000), 6); /* 1 ms */
    assert_int_equal(st_gw_hist_bucket(10000000000ull), ST_GW_LAT_BUCKETS - 1);
    assert_int_equal(st_gw_hist_bucket(10000000001ull), ST_GW_LAT_BUCKETS);
    /* The nanosecond bounds are the exported (seconds) ones. */
    for (size_t i = 0; i < ST_GW_LAT_BUCKETS; i++) {
        uint64_t ns = (uint64_t)(st_gw_latency_bounds[i] * 1e9 + 0.5);
        assert_int_equal(st_gw_hist_bucket(ns), i);
        assert_int_equal(st_gw_hist_bucket(ns + 1), i + 1);
    }
}

static void
test_put(void **state)
{
    (void)state;
    struct st_gw_hist h = {0};
    st_gw_hist_put(&h, st_gw_hist_bucket(20000), 20000);
    st_gw_hist_put(&h, st_gw_hist_bucket(20000000000ull), 20000000000ull);
    assert_int_equal(h.bucket[1], 1);
    assert_int_equal(h.over, 1);
    assert_int_equal(h.count, 2);
    assert_int_equal(h.sum_ns, 20000020000ull);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_put),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
