/* reset-storm: N connections, each closed with a reset, at a rate, some in parallel.
 *
 *   reset-storm --port 7006 --count 300 --parallel 4
 */
#include <stdio.h>

#include "reset_storm.h"
#include "tutorial/cli.h"
#include "tutorial/net.h"

int main(int argc, char **argv)
{
    int port = -1, count = 100, rate = 0, parallel = 4;
    bool http = false;
    const char *host = "127.0.0.1";
    const cli_option options[] = {
        STORM_TARGET_OPTIONS(&port, &host),
        {"--count", CLI_INT, "N", 1, 10000000, &count, "connections to reset (default 100)"},
        {"--rate", CLI_INT, "N", 0, 1000000, &rate, "connections per second (default 0: as fast as possible)"},
        {"--parallel", CLI_INT, "N", 1, 64, &parallel, "connections made at once (default 4)"},
        {"--http", CLI_FLAG, NULL, 0, 0, &http, "send an HTTP request before each reset"},
    };
    const cli_program program = {"reset-storm", "connect and reset, many times",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    storm_config config = {0};
    if (!storm_target(&program, port, host, &config.host))
        return CLI_EXIT_USAGE;
    if (!net_startup())
        return 1;
    config.port = (unsigned short)port;
    config.count = count;
    config.rate = rate;
    config.parallel = parallel;
    config.http = http;
    storm_result result;
    reset_storm_run(&config, &result);
    printf("reset-storm: %ld connections reset, %ld failed, in %.2f s\n", result.reset,
           result.failed, result.seconds);
    WSACleanup();
    return result.failed == 0 ? 0 : 1;
}
