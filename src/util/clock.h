/*
 * The monotonic clock every layer measures durations and deadlines with (CLOCK_MONOTONIC: never
 * jumps with the wall clock).
 */
#ifndef ST_UTIL_CLOCK_H
#define ST_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on the monotonic clock. */
static inline int64_t
st_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds on the monotonic clock. */
static inline int64_t
st_mono_ms(void)
{
    return st_mono_ns() / 1000000;
}

#endif
