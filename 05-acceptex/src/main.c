/* step05-server: an echo server on an I/O completion port that accepts with AcceptEx.
 *
 *   step05-server [--port N] [--seconds N] [--threads N] [--accepts N] [--faults PLAN]
 *
 * --faults replays an outcome Windows can produce and Wine does not, by hand: the import
 * layer (tutorial/faults.h) reaches into the program's calls to Windows from outside and
 * answers as the plan says (its syntax is in tutorial/fault_plan.h), e.g.
 * --faults "accept-done#1=error:64".
 */
#include <stdio.h>

#include "server.h"
#include "tutorial/cli.h"
#include "tutorial/faults.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

int main(int argc, char **argv)
{
    server_args args = {7005, 0};
    int threads = 0, accepts = SERVER_DEFAULT_ACCEPTS;
    const char *faults = NULL;
    const cli_option options[] = {
        CLI_SERVER_OPTIONS(&args),
        {"--threads", CLI_INT, "N", 0, 256, &threads,
         "worker threads on the completion port (0: one per processor)"},
        {"--accepts", CLI_INT, "N", 1, 1024, &accepts,
         "AcceptEx calls kept waiting for clients (default 8)"},
        {"--faults", CLI_TEXT, "PLAN", 0, 0, &faults,
         "end calls and completions as Windows can, e.g. \"accept-done#1=error:64\""},
    };
    const cli_program program = {"step05-server",
                                 "echo server on an I/O completion port, accepting with AcceptEx",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    char why[160];
    /* The adversary, from outside: installed only when --faults asks for it. */
    if (!faults_install(faults, false, why, sizeof why)) {
        fprintf(stderr, "%s: --faults: %s\n", program.name, why);
        cli_print_usage(&program);
        return CLI_EXIT_USAGE;
    }
    if (!net_startup())
        return 1;

    server_config config = {(unsigned short)args.port, threads, accepts};
    server *srv = server_start(&config);
    if (srv == NULL) {
        WSACleanup();
        return 1;
    }
    cli_announce_listening(server_port(srv));
    fprintf(stderr, "%d worker threads on one completion port, %d accepts outstanding\n",
            server_worker_count(srv), accepts);
    stop_wait(args.seconds);

    server_counters final;
    server_stop(srv, &final);
    printf("connections: %ld accepted, %ld closed; bytes echoed: %lld\n", final.accepted,
           final.closed, (long long)final.bytes_echoed);
    printf("operations aborted at shutdown: %ld, failed at once: %ld\n", final.aborted,
           final.failed_at_once);
    printf("live contexts at exit: %ld\n", final.live_contexts);
    WSACleanup();
    return final.live_contexts == 0 ? 0 : 1;
}
