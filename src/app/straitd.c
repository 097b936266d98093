/*
 * straitd: the strait daemon. Parses flags, starts the embedded cluster or connects to an upstream,
 * binds endpoints and serves until SIGTERM.
 */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("straitd 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "straitd: not yet serving\n");
    return 1;
}
