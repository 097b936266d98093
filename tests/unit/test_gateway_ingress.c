/*
 * Security-group ingress rules of gateway endpoints: CIDR parsing and matching (IPv4, IPv6,
 * prefix boundaries, port ranges, malformed input).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "gateway/gateway.h"

static bool
allows(const char *cidr, int lo, int hi, const char *ip, int port)
{
    struct st_gw_ingress r;
    const char *err = NULL;
    assert_int_equal(st_gw_ingress_parse(cidr, lo, hi, &r, &err), 0);
    uint8_t a[16];
    int family = inet_pton(AF_INET, ip, a) == 1 ? AF_INET : AF_INET6;
    if (family == AF_INET6)
        assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
    return st_gw_ingress_match(&r, family, a, port);
}

static void
test_ipv4(void **state)
{
    assert_true(allows("10.0.0.0/16", 14001, 14100, "10.0.255.1", 14001));
    assert_false(allows("10.0.0.0/16", 14001, 14100, "10.1.0.1", 14001));
    assert_true(allows("127.0.0.1/32", 14001, 14100, "127.0.0.1", 14100));
    assert_false(allows("127.0.0.1/32", 14001, 14100, "127.0.0.2", 14050));
    assert_false(allows("127.0.0.0/8", 14001, 14100, "127.0.0.1", 14101));
    assert_false(allows("127.0.0.0/8", 14002, 14100, "127.0.0.1", 14001));
    assert_true(allows("0.0.0.0/0", 0, 65535, "192.0.2.7", 9092));
    /* A prefix that does not end on a byte boundary. */
    assert_true(allows("10.0.0.0/9", 0, 65535, "10.127.1.1", 1));
    assert_false(allows("10.0.0.0/9", 0, 65535, "10.128.1.1", 1));
    /* No prefix = a single address. */
    assert_true(allows("192.0.2.1", 0, 65535, "192.0.2.1", 1));
    assert_false(allows("192.0.2.1", 0, 65535, "192.0.2.2", 1));
}

static void
test_ipv6(void **state)
{
    assert_true(allows("::/0", 0, 65535, "2001:db8::1", 14001));
    assert_true(allows("2001:db8::/32", 0, 65535, "2001:db8:ffff::1", 14001));
    assert_false(allows("2001:db8::/32", 0, 65535, "2001:db9::1", 14001));
    /* Families never match each other. */
    assert_false(allows("0.0.0.0/0", 0, 65535, "::1", 14001));
}

static void
test_malformed(void **state)
{
    struct st_gw_ingress r;
    const char *err = NULL;
    assert_int_equal(st_gw_ingress_parse("", 0, 1, &r, &err), -1);
    assert_int_equal(st_gw_ingress_parse("10.0.0.0/33", 0, 1, &r, &err), -1);
    assert_int_equal(st_gw_ingress_parse("10.0.0.0/", 0, 1, &r, &err), -1);
    assert_int_equal(st_gw_ingress_parse("10.0.0/8", 0, 1, &r, &err), -1);
    assert_int_equal(st_gw_ingress_parse("not-an-ip/8", 0, 1, &r, &err), -1);
    assert_int_equal(st_gw_ingress_parse("10.0.0.0/8", 2, 1, &r, &err), -1);
    assert_int_equal(st_gw_ingress_parse("10.0.0.0/8", 0, 70000, &r, &err), -1);
    assert_non_null(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
