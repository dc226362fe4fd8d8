#include "reset_storm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ws2tcpip.h>

#include "tutorial/net.h"

bool parse_ipv4(const char *text, struct in_addr *address)
{
    return inet_pton(AF_INET, text, address) == 1;
}

bool reset_one(struct in_addr source, struct in_addr host, unsigned short port, bool http)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return false;
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    if (source.s_addr != htonl(INADDR_ANY)) {
        address.sin_addr = source;
        if (bind(s, (struct sockaddr *)&address, sizeof address) != 0)
            goto failed;
    }
    address.sin_addr = host;
    address.sin_port = htons(port);
    if (connect(s, (struct sockaddr *)&address, sizeof address) != 0)
        goto failed;
    if (http) {
        static const char request[] = "GET / HTTP/1.1\r\nHost: probe\r\n\r\n";
        send(s, request, (int)strlen(request), 0);
    }
    net_hard_reset(s);
    return true;
failed:;
    int error = WSAGetLastError();
    closesocket(s);
    WSASetLastError(error);
    return false;
}

typedef struct storm {
    const storm_config *config;
    ULONGLONG started_ms;
    volatile LONG next;   /* the next connection to make */
    volatile LONG reset, failed;
} storm;

/* With a rate, connection i is due i/rate seconds after the start. */
static void wait_until_due(const storm *st, LONG i)
{
    if (st->config->rate <= 0)
        return;
    ULONGLONG due = st->started_ms + (ULONGLONG)i * 1000u / (ULONGLONG)st->config->rate;
    ULONGLONG now = GetTickCount64();
    if (due > now)
        Sleep((DWORD)(due - now));
}

static DWORD WINAPI storm_thread(void *argument)
{
    storm *st = argument;
    struct in_addr any;
    any.s_addr = htonl(INADDR_ANY);
    for (;;) {
        LONG i = InterlockedIncrement(&st->next) - 1;
        if (i >= st->config->count)
            return 0;
        wait_until_due(st, i);
        if (reset_one(any, st->config->host, st->config->port, st->config->http))
            InterlockedIncrement(&st->reset);
        else
            InterlockedIncrement(&st->failed);
    }
}

enum { MAX_PARALLEL = 64 };

void reset_storm_run(const storm_config *config, storm_result *result)
{
    storm st = {config, GetTickCount64(), 0, 0, 0};
    HANDLE threads[MAX_PARALLEL];
    int parallel = config->parallel < 1 ? 1 : config->parallel;
    parallel = parallel > MAX_PARALLEL ? MAX_PARALLEL : parallel;
    int started = 0;
    for (; started < parallel; started++) {
        threads[started] = CreateThread(NULL, 0, storm_thread, &st, 0, NULL);
        if (threads[started] == NULL)
            break;
    }
    if (started == 0)
        storm_thread(&st); /* no thread: do it on this one */
    WaitForMultipleObjects((DWORD)started, threads, TRUE, INFINITE);
    for (int i = 0; i < started; i++)
        CloseHandle(threads[i]);
    result->reset = st.reset;
    result->failed = st.failed;
    result->seconds = (double)(GetTickCount64() - st.started_ms) / 1000.0;
}

bool storm_target(const cli_program *program, int port, const char *host,
                  struct in_addr *address)
{
    if (port >= 0 && parse_ipv4(host, address))
        return true;
    fprintf(stderr, "%s: %s\n", program->name,
            port < 0 ? "--port is required" : "--host wants an IPv4 address");
    cli_print_usage(program);
    return false;
}
