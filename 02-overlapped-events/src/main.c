/* step02-server: an echo server on one thread, with an event per overlapped operation.
 *
 *   step02-server [--port N] [--seconds N] [--max-clients N]
 */
#include <stdio.h>

#include "server.h"
#include "tutorial/cli.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

int main(int argc, char **argv)
{
    server_args args = {SERVER_DEFAULT_PORT, 0};
    int max_clients = SERVER_MAX_CLIENTS;
    const cli_option options[] = {
        CLI_SERVER_OPTIONS(&args),
        {"--max-clients", CLI_INT, "N", 1, SERVER_MAX_CLIENTS, &max_clients,
         "serve at most N clients at once (62, the most one wait can watch)"},
    };
    const cli_program program = {"step02-server",
                                 "echo server: overlapped sockets, one event per operation",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (!net_startup())
        return 1;

    server_config config = {(unsigned short)args.port, max_clients};
    server *srv = server_start(&config);
    if (srv == NULL) {
        WSACleanup();
        return 1;
    }
    cli_announce_listening(server_port(srv));
    stop_reason why = stop_wait(args.seconds);
    printf("%s: stopping\n", why == STOP_BY_CTRL_C ? "Ctrl-C" : "time is up");
    server_counters final;
    server_stop(srv, &final);
    printf("served %ld clients, refused %ld (server full), echoed %lld bytes; "
           "clients left at exit: %ld\n",
           final.accepted, final.refused, final.bytes_echoed, final.clients);
    WSACleanup();
    return 0;
}
