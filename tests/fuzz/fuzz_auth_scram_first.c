/*
 * Fuzz target: SCRAM client-first parsing on the server (GS2 header, authzid, saslname escapes,
 * nonce, extensions) followed by server-first for the parsed user, plus the stored-credential
 * text parser. Seeds: tests/fuzz/corpus/auth_scram_first/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mock[] = "fuzz-mock-key";
    const char *err = NULL, *user = NULL;
    for (int m = 0; m < 2; m++) {
        struct st_scram_server *s =
            st_scram_server_new(m ? ST_SCRAM_SHA512 : ST_SCRAM_SHA256, mock, sizeof(mock));
        if (s == NULL)
            return 0;
        if (st_scram_server_client_first(s, data, size, &user, &err) == 0) {
            struct st_buf out = ST_BUF_INIT;
            if (strlen(user) == 0)
                __builtin_trap();
            if (st_scram_server_first(s, NULL, NULL, &out, &err) != 0)
                __builtin_trap();
            st_buf_free(&out);
        }
        st_scram_server_free(s);
    }
    struct st_scram_cred c;
    (void)!st_scram_cred_parse((const char *)data, size, &c, &err);
    return 0;
}
