/* step03-server: an echo server on one thread, driven by completion routines.
 *
 *   step03-server [--port N] [--seconds N]
 */
#include <stdio.h>

#include "server.h"
#include "tutorial/cli.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

int main(int argc, char **argv)
{
    server_args args = {SERVER_DEFAULT_PORT, 0};
    const cli_option options[] = {CLI_SERVER_OPTIONS(&args)};
    const cli_program program = {"step03-server",
                                 "echo server: completion routines on one alertable thread",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (!net_startup())
        return 1;

    server_config config = {(unsigned short)args.port};
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
    printf("served %ld clients, echoed %lld bytes, ran %ld completion routines; "
           "clients left at exit: %ld\n",
           final.accepted, final.bytes_echoed, final.routines_run, final.clients);
    WSACleanup();
    return 0;
}
