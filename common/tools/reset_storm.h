/* Connections that end with a reset (RST) instead of a graceful close: what the incident's
 * monitoring service sent every 5 seconds, and what the write-up's scripts repeated. */
#ifndef TUTORIAL_RESET_STORM_H
#define TUTORIAL_RESET_STORM_H

#include <stdbool.h>
#include <winsock2.h>

#include "tutorial/cli.h"

typedef struct storm_config {
    struct in_addr host;   /* the server's address (127.0.0.1 for the steps)            */
    unsigned short port;
    long count;            /* connections in all                                       */
    int rate;              /* connections per second; 0: as fast as possible           */
    int parallel;          /* threads connecting at once                               */
    bool http;             /* send an HTTP request before the reset, as probes often do */
} storm_config;

typedef struct storm_result {
    long reset;   /* connections made and reset */
    long failed;  /* connections that could not be made */
    double seconds;
} storm_result;

/* Connects from source (INADDR_ANY: any), optionally sends an HTTP request, then closes
 * with SO_LINGER {1, 0}. Returns false (WSAGetLastError) when the connection fails. */
bool reset_one(struct in_addr source, struct in_addr host, unsigned short port, bool http);

/* Runs the storm; blocks until every connection has been made and reset. */
void reset_storm_run(const storm_config *config, storm_result *result);

/* Parses a dotted IPv4 address. */
bool parse_ipv4(const char *text, struct in_addr *address);

/* The server both tools aim at: --port (required) and --host (default 127.0.0.1). */
#define STORM_TARGET_OPTIONS(port, host)                                                   \
    {"--port", CLI_INT, "N", 1, 65535, (port), "the server's port (required)"},           \
    {"--host", CLI_TEXT, "ADDRESS", 0, 0, (host),                                          \
     "the server's IPv4 address (default 127.0.0.1)"}

/* Checks the target after cli_parse: false (with the problem and the usage line on stderr)
 * when --port is missing or --host is not an IPv4 address. */
bool storm_target(const cli_program *program, int port, const char *host,
                  struct in_addr *address);

#endif
