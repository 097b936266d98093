/*
 * Fuzz target: strait's SASL client towards a broker (src/gateway/upstream.c) fed arbitrary
 * broker responses. The session runs over a socketpair; the input is a sequence of response
 * bodies (2-byte big-endian length + bytes), each sent back framed with the correlation id of the
 * request the session just wrote, so the parsers past the correlation check see the bytes. The
 * first input byte picks the mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Any crash, leak or
 * sanitizer report is a bug; failing the exchange is the expected outcome for most inputs.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads one whole request frame the session wrote; returns its correlation id, or -1. */
static int32_t
read_request(int fd)
{
    uint8_t hdr[12];
    size_t got = 0;
    while (got < sizeof(hdr)) {
        ssize_t n = read(fd, hdr + got, sizeof(hdr) - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    uint32_t len = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
                   hdr[3];
    if (len < 8 || len > (1u << 20))
        return -1;
    int32_t corr = (int32_t)(((uint32_t)hdr[8] << 24) | ((uint32_t)hdr[9] << 16) |
                             ((uint32_t)hdr[10] << 8) | hdr[11]);
    size_t rest = len - 8;
    uint8_t buf[4096];
    while (rest) {
        ssize_t n = read(fd, buf, rest < sizeof(buf) ? rest : sizeof(buf));
        if (n <= 0)
            return -1;
        rest -= (size_t)n;
    }
    return corr;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum st_gw_up_mech mechs[] = {ST_GW_UP_PLAIN, ST_GW_UP_SCRAM_SHA_256,
                                               ST_GW_UP_SCRAM_SHA_512};
    enum st_gw_up_mech mech = mechs[data[0] % 3];
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    struct st_gw_upsec *sec = calloc(1, sizeof(*sec));
    if (!sec) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    sec->refs = 1;
    sec->protocol = ST_GW_UP_SASL_PLAINTEXT;
    sec->mech = mech;
    sec->username = strdup("strait");
    sec->password = strdup("secret");
    sec->pw_len = 6;
    const char *err = NULL;
    struct st_gw_up *u = sec->username && sec->password ? st_gw_up_new(sec, sv[0], "b", &err)
                                                        : NULL;
    st_gw_upsec_unref(sec);
    char why[512];
    size_t off = 0;
    for (int round = 0; u && round < 8; round++) {
        int rc = st_gw_up_step(u, why, sizeof(why));
        if (rc != ST_GW_UP_WANT_READ)
            break;
        int32_t corr = read_request(sv[1]);
        if (corr < 0 || size - off < 2)
            break;
        size_t n = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (n > size - off)
            n = size - off;
        uint8_t frame[8];
        uint32_t flen = (uint32_t)(4 + n);
        frame[0] = (uint8_t)(flen >> 24);
        frame[1] = (uint8_t)(flen >> 16);
        frame[2] = (uint8_t)(flen >> 8);
        frame[3] = (uint8_t)flen;
        frame[4] = (uint8_t)((uint32_t)corr >> 24);
        frame[5] = (uint8_t)((uint32_t)corr >> 16);
        frame[6] = (uint8_t)((uint32_t)corr >> 8);
        frame[7] = (uint8_t)corr;
        if (write(sv[1], frame, sizeof(frame)) != (ssize_t)sizeof(frame) ||
            (n && write(sv[1], data + off, n) != (ssize_t)n))
            break;
        off += n;
    }
    st_gw_up_free(u);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
