/* step01-server: a blocking echo server, one thread per client.
 *
 *   step01-server [--port N] [--seconds N]
 *
 * Prints a line whenever a client arrives or leaves, with what the process pays for it:
 *   clients=2 threads=3 process_threads=4 reserved=9.8MiB committed=7.9MiB
 */
#include <stdio.h>

#include "process_stats.h"
#include "server.h"
#include "tutorial/cli.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

/* snippet:begin print_change */
static void print_change(const server_counters *now, void *context)
{
    (void)context;
    process_stats process = process_stats_now();
    printf("clients=%ld threads=%ld process_threads=%lu reserved=%.1fMiB committed=%.1fMiB\n",
           now->clients, now->threads, process.threads, process_stats_mib(process.reserved),
           process_stats_mib(process.committed));
    fflush(stdout);
}
/* snippet:end print_change */

int main(int argc, char **argv)
{
    server_args args = {7001, 0};
    const cli_option options[] = {CLI_SERVER_OPTIONS(&args)};
    const cli_program program = {"step01-server",
                                 "blocking echo server with one thread per client", options,
                                 sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);

    if (!net_startup())
        return 1;
    stop_event(); /* install the Ctrl-C handler before anything can be interrupted */
    server_config config = {(unsigned short)args.port, print_change, NULL};
    server *srv = server_start(&config);
    if (srv == NULL) {
        WSACleanup();
        return 1;
    }
    cli_announce_listening(server_port(srv));
    server_counters start = server_counters_now(srv);
    print_change(&start, NULL); /* the baseline: no client, one thread (the acceptor) */

    stop_wait(args.seconds);
    server_counters last;
    server_stop(srv, &last);
    printf("served %ld clients, echoed %lld bytes, at most %ld threads at once\n",
           last.clients_served, (long long)last.bytes_echoed, last.peak_threads);
    WSACleanup();
    return 0;
}
