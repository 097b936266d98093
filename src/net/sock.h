/*
 * Socket helpers for the data plane and the admin socket: non-blocking listeners (TCP and Unix),
 * non-blocking connects, peer formatting. Every fd returned is O_NONBLOCK and O_CLOEXEC.
 */
#ifndef ST_NET_SOCK_H
#define ST_NET_SOCK_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Binds and listens on addr:port (IPv4 or IPv6 literal; "0.0.0.0"/"::" for any). SO_REUSEADDR is
 * set so a restarted gateway rebinds its ports at once. Returns the fd, or -1 with *err set to a
 * static description (errno is preserved for the caller's log line).
 */
int st_sock_listen_tcp(const char *addr, int port, int backlog, const char **err);

/* Binds a Unix stream socket at `path` (an existing socket file is replaced), chmod `mode`. */
int st_sock_listen_unix(const char *path, unsigned mode, int backlog, const char **err);

/* Starts a non-blocking connect; returns the fd (connect may still be in progress) or -1. */
int st_sock_connect(const struct sockaddr *sa, socklen_t len);

/* Returns 0 when a non-blocking connect on fd completed, else the socket error (errno value). */
int st_sock_connect_result(int fd);

/* TCP_NODELAY and keepalive for proxied connections. */
void st_sock_tune_tcp(int fd);

/* Formats the peer (or local, when `local`) address as "ip:port" into buf. */
void st_sock_addr_str(int fd, int local, char *buf, size_t len);

/* Formats a sockaddr as "ip:port". */
void st_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/*
 * Splits "host:port" (or "[v6]:port") into host and port. Returns 0, or -1 when malformed or the
 * port is not in 1..65535.
 */
int st_hostport_parse(const char *s, size_t len, char *host, size_t host_len, int *port);

#endif
