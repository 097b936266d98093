/*
 * `strait admin ...`: talks HTTP to straitd's local admin Unix socket (file permissions are the
 * trust boundary). Commands: status, embedded broker down/up, embedded create-topic.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int
st_cli_admin(int argc, char **argv)
{
    fprintf(stderr, "usage: strait admin <status|embedded> ...\n");
    return 2;
}
