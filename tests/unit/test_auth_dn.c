/*
 * Unit tests for src/auth/dn and src/auth/jregex. The expected strings were produced with
 * OpenJDK 17: X500Principal(der).getName() for the DN vectors, and java.util.regex driven exactly
 * like Kafka's SslPrincipalMapper for the mapping-rule vectors ("ERR:..." = Java threw or no rule
 * applied). Constructs outside the supported regex subset must be rejected at load time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "auth/dn.h"
#include "auth/encoding.h"
#include "auth/jregex.h"

struct dn_vector {
    const char *label; /* what the name exercises */
    const char *der;   /* DER of the Name, hex */
    const char *java;  /* X500Principal.getName() */
};

static const struct dn_vector dn_vectors[] = {
    {"basic",
     "3046310b30090603550406130255533110300e060355040a0c074578616d706c6531153013060355040b0c0c53657"
     "2766963655573657273310e300c06035504030c05616c696365",
     "CN=alice,OU=ServiceUsers,O=Example,C=US"},
    {"escapes", "301e311c301a06035504030c13612c622b6322645c653c663e673b683d69236a",
     "CN=a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i\\#j"},
    {"spaces", "3023310f300d06035504030c0620236c6561643110300e060355040b0c07747261696c2020",
     "OU=trail\\ \\ ,CN=\\ \\#lead"},
    {"hash", "3010310e300c06035504030c052368617368", "CN=\\#hash"},
    {"email",
     "30443110300e060355040a0c074578616d706c65310e300c06035504030c05616c6963653120301e06092a864886f"
     "70d0109011611616c696365406578616d706c652e636f6d",
     "1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e636f6d,CN=alice,O=Example"},
    {"multi",
     "30353110300e060355040a0c074578616d706c653121300c06035504030c05616c6963653011060a0992268993f22"
     "c6401010c03313233",
     "CN=alice+UID=123,O=Example"},
    {"dc",
     "303d31133011060a0992268993f22c6401191603636f6d31173015060a0992268993f22c64011916076578616d706"
     "c65310d300b06035504030c04686f7374",
     "CN=host,DC=example,DC=com"},
    {"utf8", "30143112301006035504030c094ac3b6726720e282ac",
     "CN=J\xc3"
     "\xb6"
     "rg \xe2"
     "\x82"
     "\xac"
     ""},
    {"oids", "3028310b3009060355040513023432310d300b060355040c0c04426f7373310a300806035504030c0178",
     "CN=x,2.5.4.12=#0c04426f7373,2.5.4.5=#13023432"},
    {"locality",
     "304e310b3009060355040613025553310b300906035504080c0257413110300e06035504070c0753656174746c653"
     "112301006035504090c0931204d61696e205374310c300a06035504030c03426f62",
     "CN=Bob,STREET=1 Main St,L=Seattle,ST=WA,C=US"},
    {"broker",
     "30423140303e06035504030c37622d312e64656d6f636c75737465722e6162633132332e63322e6b61666b612e757"
     "32d656173742d312e616d617a6f6e6177732e636f6d",
     "CN=b-1.democluster.abc123.c2.kafka.us-east-1.amazonaws.com"},
    {"empty", "3000", ""},
    {"ctl", "30163114301206035504030c0b74616209686572651c746c",
     "CN=tab\x09"
     "here\x1c"
     "tl"},
    {"nul", "300e310c300a06035504030c03610062", "CN=a\\00b"},
    {"cr", "3010310e300c06035504030c050d6d69640d",
     "CN=\\\x0d"
     "mid\\\x0d"
     ""},
    {"allspace", "300d310b300906035504030c022020", "CN=\\ \\ "},
    {"t61", "300f310d300b060355040a1404636166e9",
     "O=caf\xef"
     "\xbf"
     "\xbd"
     ""},
    {"ia5cn", "300e310c300a06035504031603696135", "CN=ia5"},
    {"univ", "300f310d300b06035504031c0400000061", "CN=#1c0400000061"},
    {"del", "300e310c300a06035504030c03787f79",
     "CN=x\x7f"
     "y"},
    {"slashes", "30123110300e06035504030c07612f622a633f64", "CN=a/b*c?d"},
};

static void
test_dn_java_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(dn_vectors) / sizeof(dn_vectors[0]); i++) {
        const struct dn_vector *v = &dn_vectors[i];
        uint8_t der[512];
        size_t dl = strlen(v->der) / 2;
        assert_int_equal(st_hex_decode(v->der, strlen(v->der), der, dl), 0);
        const unsigned char *p = der;
        X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)dl);
        assert_non_null(name);
        struct st_buf out = ST_BUF_INIT;
        const char *err = NULL;
        assert_int_equal(st_dn_rfc2253(name, &out, &err), 0);
        if (out.len != strlen(v->java) || memcmp(out.data, v->java, out.len) != 0)
            fail_msg("%s: got '%.*s' want '%s'", v->label, (int)out.len, (char *)out.data, v->java);
        st_buf_free(&out);
        X509_NAME_free(name);
    }
}

struct map_vector {
    const char *rules; /* ssl.principal.mapping.rules */
    const char *dn;    /* input DN */
    const char *java;  /* Kafka's result, or "ERR:..." */
};

static const struct map_vector map_vectors[] = {
    {"RULE:^CN=(.*\?),OU=ServiceUsers.*$/$1/"
     ",RULE:^CN=(.*\?),OU=(.*\?),O=(.*\?),L=(.*\?),ST=(.*\?),C=(.*\?)$/$1@$2/L,DEFAULT",
     "CN=alice,OU=ServiceUsers,O=Example,C=US", "alice"},
    {"RULE:^CN=(.*\?),OU=ServiceUsers.*$/$1/"
     ",RULE:^CN=(.*\?),OU=(.*\?),O=(.*\?),L=(.*\?),ST=(.*\?),C=(.*\?)$/$1@$2/L,DEFAULT",
     "CN=Bob,OU=Eng,O=Example,L=X,ST=Y,C=US", "bob@eng"},
    {"RULE:^CN=(.*\?),OU=ServiceUsers.*$/$1/"
     ",RULE:^CN=(.*\?),OU=(.*\?),O=(.*\?),L=(.*\?),ST=(.*\?),C=(.*\?)$/$1@$2/L,DEFAULT",
     "CN=carol,O=Example", "CN=carol,O=Example"},
    {"DEFAULT", "CN=x,O=y", "CN=x,O=y"},
    {"", "CN=x,O=y", "ERR:no rule"},
    {"RULE:^CN=(.*)$/$1/U", "CN=mixed.Case", "MIXED.CASE"},
    {"RULE:^CN=([^,]*),.*$/$1/", "CN=a\\,b,O=x", "a\\"},
    {"RULE:^CN=(.*),(.*)$/$2-$1/", "CN=a,b,c", "c-a,b"},
    {"RULE:^CN=(.*\?),(.*)$/$2-$1/", "CN=a,b,c", "b,c-a"},
    {"RULE:.*/X/", "abc", "XX"},
    {"RULE:(a*)*b/[$1]/", "aaab", "[]"},
    {"RULE:^(\\w+)@(\\w+)\\.com$/$2\\/$1/", "user@corp.com", "corp/user"},
    {"RULE:^CN=(.*)$/$1 $5 $12/", "CN=z", "z $5 z2"},
    {"RULE:^CN=(.*)$/$0|$1/", "CN=z", "CN=z|z"},
    {"RULE:^CN=(.+\?)(,OU=.+)\?$/$1:$2/", "CN=n,OU=o", "n:,OU=o"},
    {"RULE:^CN=(.+\?)(,OU=.+)\?$/$1:$2/", "CN=n", "n:"},
    {"RULE:^CN=([a-c]+|[x-z]+)\\d{2,3}$/$1/", "CN=abc123", "abc"},
    {"RULE:^CN=([a-c]+|[x-z]+)\\d{2,3}$/$1/", "CN=abc1234", "ERR:no rule"},
    {"RULE:^CN=(.*)$/$1/,RULE:garbage", "CN=x", "ERR:invalid rule"},
    {"RULE:^(\?:CN|UID)=([^,+]+).*$/user-$1/", "UID=42+CN=w,O=o", "user-42"},
    {"RULE:^CN=(.*)$/$1/L , DEFAULT", "O=only", "O=only"},
    {"RULE:^CN=(.*)$/$1/X", "CN=x", "ERR:invalid rule"},
    {"RULE:^CN=\\s*(\\S+)\\s*$/$1/", "CN=  spaced  ", "spaced"},
    {"RULE:^CN=(.{2})(.{0,2}\?)(.*)$/$1|$2|$3/", "CN=abcdef", "ab||cdef"},
    {"RULE:x$/y/", "abx", "ERR:no rule"},
    {"RULE:[^a-z]+/_/", "A1b2C3", "ERR:no rule"},
    {"RULE:(\?i)x/y/", "x", "y"},
    {"RULE:^CN=(.*)$/\\$1=$1/", "CN=v", "$1=v"},
    {"RULE:^CN=(.*)$/$1\\/", "CN=v", "ERR:invalid rule"},
    {"RULE:^CN=(.*)$/$/", "CN=v", "ERR:IllegalArgumentException"},
    {"RULE:^(a|ab)(c|bcd)(d*)$/$1-$2-$3/", "abcd", "a-bcd-"},
    {"RULE:^(.*\?)(\\d+)(.*)$/$1|$2|$3/", "abc123def456", "abc|123|def456"},
    {"RULE:^(.*)(\\d+)(.*)$/$1|$2|$3/", "abc123def456", "abc123def45|6|"},
    {"RULE:^((a)|b)+$/$1$2/", "abab", "ba"},
    {"RULE:^(\?:(x)|(y))+$/[$1][$2]/", "xyy", "[x][y]"},
    {"RULE:^[\\w.-]+=([^,]+)(\?:,.*)\?$/$1/", "CN=svc.a-b,O=x", "svc.a-b"},
    {"RULE:^CN=([\\s\\S]{1,3})/$1/", "CN=abc", "abc"},
    {"RULE:^CN=[^\\\\,]*\\\\,(.*)$/$1/", "CN=a\\,rest", "rest"},
    {"RULE:^a{2}b{0,}c{1,2}$/ok/", "aabbbcc", "ok"},
    {"RULE:^a{2}b{0,}c{1,2}$/ok/", "aabbbccc", "ERR:no rule"},
    {"RULE:^(a\?){3}b$/[$1]/", "aab", "[]"},
    {"RULE:^(a\?\?)(a*)$/[$1][$2]/", "aaa", "[][aaa]"},
    {"RULE:^(a+\?)(a+)$/[$1][$2]/", "aaa", "[a][aa]"},
    {"RULE:^x*$/$0$0/", "xx", "xxxx"},
    {"RULE:a/b/", "a", "b"},
    {"RULE:^(\\.\\*\\+\\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$)$/lit/", ".*+\?()[]{}|^$", "lit"},
    {"RULE:^[-a]+[a-]+$/ok/", "-a-a", "ok"},
    {"RULE:^[\\t ]*(\\S+)[\\t ]*$/<$1>/", "  v  ", "<v>"},
    {"RULE:^CN=(.*)$/$1/U, RULE:^O=(.*)$/$1/L", "O=ACME", "acme"},
    {"RULE:^(.*)\\/(.*)$/$2 $1/", "left/right", "right left"},
    {"RULE:^CN=(.*)$/$10/", "CN=q", "q0"},
    {"RULE:(a)|b/$1/", "b", ""},
    {"RULE:^([^,=]+)=([^,]+)(,([^,=]+)=([^,]+))*$/$4:$5/", "A=1,B=2,C=3", "C:3"},
};

static void
test_mapping_java_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(map_vectors) / sizeof(map_vectors[0]); i++) {
        const struct map_vector *v = &map_vectors[i];
        const char *err = NULL;
        bool java_err = strncmp(v->java, "ERR:", 4) == 0;
        struct st_dn_rules *r = st_dn_rules_new(v->rules, &err);
        if (r == NULL) {
            /* Load-time rejections: Java's invalid rules, and our unsupported subset ((?i)). */
            if (!java_err && strstr(v->rules, "(?i)") == NULL)
                fail_msg("case %zu: rules rejected: %s", i, err);
            continue;
        }
        struct st_buf out = ST_BUF_INIT;
        int rc = st_dn_rules_map(r, v->dn, strlen(v->dn), &out, &err);
        if (java_err) {
            if (rc != -1)
                fail_msg("case %zu: expected failure (%s), got '%s'", i, v->java, (char *)out.data);
        } else if (rc != 0 || strcmp((char *)out.data, v->java) != 0) {
            fail_msg("case %zu: got rc=%d '%s' (%s) want '%s'", i, rc,
                     rc == 0 ? (char *)out.data : "", rc ? err : "", v->java);
        }
        st_buf_free(&out);
        st_dn_rules_free(r);
    }
}

static void
test_rules_defaults(void **state)
{
    (void)state;
    const char *err = NULL;
    struct st_buf out = ST_BUF_INIT;
    /* NULL means the Kafka default, DEFAULT. */
    struct st_dn_rules *r = st_dn_rules_new(NULL, &err);
    assert_non_null(r);
    assert_int_equal(st_dn_rules_map(r, "CN=a", 4, &out, &err), 0);
    assert_string_equal((char *)out.data, "CN=a");
    st_dn_rules_free(r);
    st_buf_free(&out);
    /* A blank list has no rules at all, as in Kafka: nothing maps. */
    r = st_dn_rules_new("  ", &err);
    assert_non_null(r);
    assert_int_equal(st_dn_rules_map(r, "CN=a", 4, &out, &err), -1);
    assert_string_equal(err, "no rule matches the distinguished name");
    st_dn_rules_free(r);
    st_buf_free(&out);
}

static void
test_regex_subset(void **state)
{
    (void)state;
    static const char *const rejected[] = {
        "(?=x)",   "(?i)x",  "a++",    "a*+",       "\\1",        "(a)\\1", "\\bx",    "\\p{L}",
        "\\Qx\\E", "[a[b]]", "[a&&b]", "x{2",       "x{3,1}",     "*a",     "(a",      "a)",
        "[",       "[]a]",   "\\",     "\xc3\xa9+", "[\xc3\xa9]", "\\x41",  "\\u0041", "^*",
    };
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        const char *err = NULL;
        struct st_jre *re = st_jre_compile(rejected[i], &err);
        if (re != NULL)
            fail_msg("pattern %zu '%s' should be rejected", i, rejected[i]);
        assert_non_null(err);
    }
    /* Catastrophic backtracking ends with an error, not a hang. */
    const char *err = NULL;
    struct st_jre *re = st_jre_compile("(a|aa)*(a|aa)*(a|aa)*(a|aa)*c", &err);
    assert_non_null(re);
    char s[64];
    memset(s, 'a', sizeof(s));
    long budget = 5000000;
    assert_int_equal(st_jre_matches(re, s, sizeof(s), &budget, &err), -1);
    assert_string_equal(err, "regex: match budget exhausted");
    assert_int_equal(budget, 0);
    /* The default budget (NULL) too. */
    assert_int_equal(st_jre_matches(re, s, sizeof(s), NULL, &err), -1);
    /* A budget is charged by successful calls as well. */
    budget = 1000;
    struct st_jre *small = st_jre_compile("^a+$", &err);
    assert_int_equal(st_jre_matches(small, "aaaa", 4, &budget, &err), 1);
    assert_true(budget < 1000 && budget > 900);
    budget = 3;
    assert_int_equal(st_jre_matches(small, "aaaa", 4, &budget, &err), -1);
    st_jre_free(small);
    st_jre_free(re);
    /* Empty-matching loops terminate. */
    re = st_jre_compile("(a*)*(b?)*x", &err);
    assert_non_null(re);
    assert_int_equal(st_jre_matches(re, "aabx", 4, NULL, &err), 1);
    assert_int_equal(st_jre_matches(re, "aab", 3, NULL, &err), 0);
    st_jre_free(re);
    /* Non-ASCII literals match as byte sequences. */
    re = st_jre_compile("^CN=J\xc3\xb6rg (.*)$", &err);
    assert_non_null(re);
    assert_int_equal(st_jre_matches(re, "CN=J\xc3\xb6rg x", 10, NULL, &err), 1);
    st_jre_free(re);
}

static void
test_dn_from_certificate_name(void **state)
{
    (void)state;
    /* Build a name the way a CA would and map it with the spec's example rules. */
    X509_NAME *n = X509_NAME_new();
    assert_non_null(n);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const uint8_t *)"US", -1, -1, 0), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const uint8_t *)"Example", -1, -1, 0), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
                                                (const uint8_t *)"ServiceUsers", -1, -1, 0),
                     1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const uint8_t *)"alice", -1, -1, 0), 1);
    struct st_buf dn = ST_BUF_INIT, out = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(st_dn_rfc2253(n, &dn, &err), 0);
    assert_string_equal((char *)dn.data, "CN=alice,OU=ServiceUsers,O=Example,C=US");
    struct st_dn_rules *r = st_dn_rules_new(
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),"
        "C=(.*?)$/$1@$2/L,DEFAULT",
        &err);
    assert_non_null(r);
    assert_int_equal(st_dn_rules_map(r, (char *)dn.data, dn.len, &out, &err), 0);
    assert_string_equal((char *)out.data, "alice");
    st_dn_rules_free(r);
    st_buf_free(&dn);
    st_buf_free(&out);
    X509_NAME_free(n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dn_java_vectors),
        cmocka_unit_test(test_mapping_java_vectors),
        cmocka_unit_test(test_rules_defaults),
        cmocka_unit_test(test_regex_subset),
        cmocka_unit_test(test_dn_from_certificate_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
