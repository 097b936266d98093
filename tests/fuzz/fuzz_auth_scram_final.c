/*
 * Fuzz target: SCRAM client-final verification on the server after a fixed client-first and
 * server-first (RFC 7677 inputs), and server-first / server-final parsing on the client side.
 * Seeds: tests/fuzz/corpus/auth_scram_final/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built once: PBKDF2 is too slow to run per input. */
static struct st_scram_cred cred;
static int have_cred;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL, *user = NULL;
    if (!have_cred) {
        static const uint8_t salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                                       0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
        if (st_scram_cred_make(ST_SCRAM_SHA256, "pencil", 6, salt, sizeof(salt), 4096, &cred,
                               &err) != 0)
            return 0;
        have_cred = 1;
    }
    static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA256, NULL, 0);
    struct st_buf out = ST_BUF_INIT;
    if (s != NULL &&
        st_scram_server_client_first(s, (const uint8_t *)first, sizeof(first) - 1, &user, &err) ==
            0 &&
        st_scram_server_first(s, &cred, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", &out, &err) == 0) {
        st_buf_reset(&out);
        (void)!st_scram_server_client_final(s, data, size, &out, &err);
    }
    st_scram_server_free(s);

    /* Client side: the input as server-first (low iteration counts are refused before PBKDF2,
     * high ones are bounded), then as server-final. */
    struct st_scram_client *c =
        st_scram_client_new(ST_SCRAM_SHA256, "user", "pencil", 6, "rOprNGfwEbeRWgbNEkqO");
    st_buf_reset(&out);
    if (c != NULL && st_scram_client_first(c, &out) == 0) {
        st_buf_reset(&out);
        if (memmem(data, size, ",i=4096", 7) != NULL)
            (void)!st_scram_client_final(c, data, size, &out, &err);
    }
    st_scram_client_free(c);
    st_buf_free(&out);
    return 0;
}
