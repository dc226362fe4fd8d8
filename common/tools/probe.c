/* probe: behaves like the incident's monitoring service. Two sources (127.0.0.2 and
 * 127.0.0.3 when they can be bound, as on Windows and Linux loopback; else any address),
 * each connecting every --interval-ms and closing with a reset, optionally after an HTTP
 * request (--http).
 *
 *   probe --port 7006 --interval-ms 5000 --seconds 60
 */
#include <stdio.h>

#include "reset_storm.h"
#include "tutorial/cli.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

typedef struct prober {
    const char *name;
    struct in_addr source, host;
    unsigned short port;
    int interval_ms, count;
    bool http;
    long made, failed;
} prober;

/* A source address is usable when a socket can bind to it. */
static struct in_addr pick_source(const char *address)
{
    struct in_addr source;
    parse_ipv4(address, &source);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in local = {0};
    local.sin_family = AF_INET;
    local.sin_addr = source;
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&local, sizeof local) != 0)
        source.s_addr = htonl(INADDR_ANY);
    if (s != INVALID_SOCKET)
        closesocket(s);
    return source;
}

static DWORD WINAPI probe_loop(void *argument)
{
    prober *p = argument;
    for (int i = 0; p->count == 0 || i < p->count; i++) {
        if (i > 0 && WaitForSingleObject(stop_event(), (DWORD)p->interval_ms) == WAIT_OBJECT_0)
            break;
        bool ok = reset_one(p->source, p->host, p->port, p->http);
        if (ok) {
            p->made++;
        } else {
            p->failed++;
            report_error("probe connect", (DWORD)WSAGetLastError());
        }
        printf("probe: %s #%d %s\n", p->name, i + 1, ok ? "connected, reset" : "failed");
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int port = -1, interval_ms = 5000, count = 0, seconds = 0;
    bool http = false;
    const char *host = "127.0.0.1";
    const cli_option options[] = {
        STORM_TARGET_OPTIONS(&port, &host),
        {"--interval-ms", CLI_INT, "N", 1, 3600000, &interval_ms, "time between probes of one source (default 5000)"},
        {"--count", CLI_INT, "N", 0, 1000000, &count, "probes per source (default 0: until stopped)"},
        {"--seconds", CLI_INT, "N", 0, 86400, &seconds, "stop after N seconds (default 0: Ctrl-C)"},
        {"--http", CLI_FLAG, NULL, 0, 0, &http, "send an HTTP request before each reset"},
    };
    const cli_program program = {"probe", "connect-and-reset probes from two sources",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    struct in_addr server_address;
    if (!storm_target(&program, port, host, &server_address))
        return CLI_EXIT_USAGE;
    if (!net_startup())
        return 1;
    prober probers[2] = {
        {"127.0.0.2", pick_source("127.0.0.2"), server_address, (unsigned short)port, interval_ms, count, http, 0, 0},
        {"127.0.0.3", pick_source("127.0.0.3"), server_address, (unsigned short)port, interval_ms, count, http, 0, 0},
    };
    for (int i = 0; i < 2; i++) {
        if (probers[i].source.s_addr == htonl(INADDR_ANY))
            probers[i].name = i == 0 ? "source-1 (any address)" : "source-2 (any address)";
    }
    HANDLE threads[2];
    for (int i = 0; i < 2; i++)
        threads[i] = CreateThread(NULL, 0, probe_loop, &probers[i], 0, NULL);
    DWORD limit = seconds > 0 ? (DWORD)seconds * 1000u : INFINITE;
    if (WaitForMultipleObjects(2, threads, TRUE, limit) == WAIT_TIMEOUT) {
        SetEvent(stop_event()); /* time is up: the probe loops wait on this event */
        WaitForMultipleObjects(2, threads, TRUE, INFINITE);
    }
    printf("probe: %ld probes, %ld failed\n", probers[0].made + probers[1].made,
           probers[0].failed + probers[1].failed);
    WSACleanup();
    return 0;
}
