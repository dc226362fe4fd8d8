/* client: sends a payload (or stdin) to a step's server and prints what comes back.
 *
 *   client --port 7004 --payload hello        echo servers (steps 01-05)
 *   client --port 7006 --frame --payload hi   framed servers (steps 06-07)
 *   some-command | client --port 7004         sends stdin
 *   client --port 7004 --hold 62 --seconds 30 holds 62 idle connections open
 */
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "tutorial/cli.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

static bool read_stdin(client_buffer *input)
{
    *input = (client_buffer){0};
    size_t capacity = 0;
    for (;;) {
        if (input->length == capacity) {
            capacity = capacity ? capacity * 2 : 65536;
            unsigned char *grown = realloc(input->data, capacity);
            if (grown == NULL)
                return false;
            input->data = grown;
        }
        size_t got = fread(input->data + input->length, 1, capacity - input->length, stdin);
        input->length += got;
        if (got == 0)
            return !ferror(stdin);
    }
}

/* True when the server has ended s (an orderly close or a reset is waiting to be read). */
static bool ended_by_server(SOCKET s)
{
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(s, &readable);
    struct timeval now = {0, 0};
    char byte;
    return select(0, &readable, NULL, NULL, &now) == 1 && recv(s, &byte, 1, MSG_PEEK) <= 0;
}

/* --hold N: opens N connections that send nothing, keeps them until Ctrl-C or --seconds,
 * then says how many the server closed meanwhile (an idle timeout, say) and closes them. */
static int hold_connections(unsigned short port, int count, int seconds)
{
    SOCKET *held = calloc((size_t)count, sizeof *held);
    if (held == NULL)
        return 1;
    int opened = 0;
    for (; opened < count; opened++) {
        held[opened] = net_connect_loopback(port);
        if (held[opened] == INVALID_SOCKET) {
            report_error("connecting", (DWORD)WSAGetLastError());
            break;
        }
    }
    printf("holding %d connection%s to 127.0.0.1:%u (Ctrl-C%s ends it)\n", opened,
           opened == 1 ? "" : "s", port, seconds > 0 ? " or --seconds" : "");
    fflush(stdout);
    if (opened == count)
        stop_wait(seconds);
    int ended = 0;
    for (int i = 0; i < opened; i++) {
        ended += ended_by_server(held[i]);
        closesocket(held[i]);
    }
    printf("closed %d connection%s; the server had closed %d first\n", opened,
           opened == 1 ? "" : "s", ended);
    free(held);
    return opened == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    int port = -1, timeout_ms = 10000, hold = 0, seconds = 0;
    const char *payload = NULL;
    bool framed = false;
    const cli_option options[] = {
        {"--port", CLI_INT, "N", 1, 65535, &port, "the server's port on 127.0.0.1 (required)"},
        {"--payload", CLI_TEXT, "TEXT", 0, 0, &payload, "send TEXT instead of stdin"},
        {"--frame", CLI_FLAG, NULL, 0, 0, &framed,
         "send one length-prefixed frame and read one back (steps 06-07)"},
        {"--timeout", CLI_INT, "MS", 1, 600000, &timeout_ms,
         "give up when the server is silent this long (default 10000)"},
        {"--hold", CLI_INT, "N", 1, 10000, &hold,
         "open N connections that send nothing and keep them open (idle clients)"},
        {"--seconds", CLI_INT, "N", 0, 86400, &seconds,
         "with --hold: close them after N seconds (default 0: at Ctrl-C)"},
    };
    const cli_program program = {"client", "send bytes to a step's server, print the reply",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (port < 0) {
        fprintf(stderr, "client: --port is required\n");
        cli_print_usage(&program);
        return CLI_EXIT_USAGE;
    }

    if (hold > 0) {
        if (!net_startup())
            return 1;
        int status = hold_connections((unsigned short)port, hold, seconds);
        WSACleanup();
        return status;
    }

    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    client_buffer input = {0};
    if (payload != NULL) {
        input.data = (unsigned char *)payload;
        input.length = strlen(payload);
    } else if (!read_stdin(&input)) {
        fprintf(stderr, "client: cannot read stdin\n");
        return 1;
    }

    if (!net_startup())
        return 1;
    client_buffer reply;
    bool ok = framed ? client_exchange_frame((unsigned short)port, input.data, input.length,
                                             (DWORD)timeout_ms, &reply)
                     : client_exchange_stream((unsigned short)port, input.data, input.length,
                                              (DWORD)timeout_ms, &reply);
    DWORD error = (DWORD)WSAGetLastError();
    fwrite(reply.data, 1, reply.length, stdout);
    /* A --payload is text typed on a command line: end its echo with a newline, so the
     * shell's prompt starts on a line of its own. What came from stdin stays byte-exact. */
    if (payload != NULL && reply.length > 0 && reply.data[reply.length - 1] != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    client_buffer_free(&reply);
    if (payload == NULL)
        client_buffer_free(&input);
    WSACleanup();
    if (!ok && error == 0) { /* no error: the server ended the connection first */
        fprintf(stderr, "talking to the server failed: the server closed the connection\n");
        return 1;
    }
    if (!ok) {
        report_error("talking to the server", error);
        return 1;
    }
    return 0;
}
