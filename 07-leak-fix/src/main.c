/* The framed echo server of steps 06 and 07: serve, optionally print stats every second,
 * then shut down and print the leak report. */
#include <windows.h>

#include <psapi.h> /* after windows.h, which it needs */
#include <stdio.h>

#include "async_socket.h"
#include "registry.h"
#include "server.h"
#include "tutorial/cli.h"
#include "tutorial/faults.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

/* The step's CMakeLists.txt names the program and its port, so that this file is the same
 * in 06 and 07. */
#ifndef SERVER_PROGRAM
#define SERVER_PROGRAM "server"
#endif
#ifndef SERVER_DEFAULT_PORT
#define SERVER_DEFAULT_PORT 7000
#endif

/* Committed private memory, counted region by region: what PrivateUsage reports on Windows. */
static unsigned long long committed_private_regions(void)
{
    unsigned long long total = 0;
    MEMORY_BASIC_INFORMATION region;
    for (const char *address = NULL;
         VirtualQuery(address, &region, sizeof region) == sizeof region;
         address = (const char *)region.BaseAddress + region.RegionSize) {
        if (region.State == MEM_COMMIT && region.Type == MEM_PRIVATE)
            total += region.RegionSize;
    }
    return total;
}

static unsigned long long private_bytes(void)
{
    PROCESS_MEMORY_COUNTERS_EX memory = {0};
    memory.cb = sizeof memory;
    if (GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&memory,
                             sizeof memory) && memory.PrivateUsage != 0)
        return (unsigned long long)memory.PrivateUsage;
    /* Wine 8 leaves PrivateUsage at 0, and its PagefileUsage hardly moves when the heap
     * grows: count the committed private regions ourselves. */
    return committed_private_regions();
}

/* The demo parses this line: keep the keys and their order. */
static void print_stats(server *srv, int seconds)
{
    server_counters c;
    registry_totals t;
    server_get_counters(srv, &c);
    registry_get_totals(&t);
    printf("stats: seconds=%d accepted=%ld resets=%ld frames=%ld live_contexts=%ld "
           "disposed_in_progress=%ld context_bytes=%llu private_bytes=%llu\n",
           seconds, c.accepted, c.resets, c.frames, t.contexts, t.disposed_in_progress,
           (unsigned long long)t.context_bytes, private_bytes());
    fflush(stdout);
}

/* Like stop_wait, with a stats line every second. */
static void serve(server *srv, int seconds, bool stats)
{
    if (!stats) {
        stop_wait(seconds);
        return;
    }
    for (int elapsed = 1; seconds == 0 || elapsed <= seconds; elapsed++) {
        if (WaitForSingleObject(stop_event(), 1000) == WAIT_OBJECT_0)
            return;
        print_stats(srv, elapsed);
    }
}

int main(int argc, char **argv)
{
    server_args args = {SERVER_DEFAULT_PORT, 0};
    int threads = 2, accepts = 8, max_frame = 65536, idle_ms = 30000;
    bool stats = false, wine_resets = false;
    const char *faults = NULL;
    const cli_option options[] = {
        CLI_SERVER_OPTIONS(&args),
        {"--threads", CLI_INT, "N", 1, SERVER_MAX_THREADS, &threads, "worker threads (default 2)"},
        {"--accepts", CLI_INT, "N", 1, SERVER_MAX_ACCEPTS, &accepts,
         "AcceptEx calls kept outstanding (default 8)"},
        {"--max-frame", CLI_INT, "N", 1, SERVER_MAX_FRAME, &max_frame,
         "longest frame payload in bytes; longer closes the connection (default 65536)"},
        {"--idle-ms", CLI_INT, "N", 0, 86400000, &idle_ms,
         "close a connection whose receive or send waits longer, or whose frame is not whole "
         "in that time (default 30000; 0: never)"},
        {"--stats", CLI_FLAG, NULL, 0, 0, &stats, "print a stats line every second"},
        {"--faults", CLI_TEXT, "PLAN", 0, 0, &faults,
         "make calls fail as Windows can, e.g. \"accept%5=fail:WSAECONNRESET\""},
        {"--wine-resets", CLI_FLAG, NULL, 0, 0, &wine_resets,
         "under Wine, keep Wine's reset behaviour (a receive after a reset reads 0 bytes)"},
    };
    const cli_program program = {SERVER_PROGRAM,
                                 "framed echo server on a completion port, with a leak report",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    char why[160];
    /* The adversary, from outside (tutorial/faults.h): installed only when --faults asks
     * for it, or when Windows' reset semantics are wanted under Wine. */
    if (!faults_install(faults, !wine_resets, why, sizeof why)) {
        fprintf(stderr, "%s: --faults: %s\n", SERVER_PROGRAM, why);
        cli_print_usage(&program);
        return CLI_EXIT_USAGE;
    }
    if (net_under_wine())
        fprintf(stderr, "%s\n", faults_windows_resets()
                                     ? "under Wine: resets behave as on Windows (a receive after "
                                       "a reset fails with WSAECONNRESET); --wine-resets: Wine's own"
                                     : "under Wine: Wine's own resets (a receive after a reset "
                                       "reads 0 bytes)");
    if (!net_startup())
        return 1;

    server_config config = {(unsigned short)args.port, threads, accepts,
                            (unsigned long)max_frame, idle_ms};
    server *srv = server_start(&config);
    if (srv == NULL)
        return 1;
    cli_announce_listening(server_port(srv));
    serve(srv, args.seconds, stats);

    server_counters c;
    server_stop(srv, &c);
    printf("served: accepted=%ld failed_accepts=%ld resets=%ld closed=%ld frames=%ld oversized=%ld "
           "idle_timeouts=%ld stalled_sends=%ld slow_frames=%ld immediate_failures=%ld\n",
           c.accepted, c.failed_accepts, c.resets, c.closed, c.frames, c.oversized, c.idle_timeouts,
           c.stalled_sends, c.slow_frames, c.immediate_failures);
    registry_print_report(stdout); /* its last line: "leaked: N contexts, B bytes" */
    WSACleanup();
    return 0;
}
