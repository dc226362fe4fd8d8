/* The plumbing works under Wine: Winsock starts, loopback connections carry bytes both
 * ways, the project's client talks to a server, and bad arguments get status 2. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "tutorial/cli.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* A one-connection echo server on a thread: the other end of the client's code. */
typedef struct echo_once {
    SOCKET listener;
    bool framed;
} echo_once;

static DWORD WINAPI echo_one_connection(void *argument)
{
    echo_once *job = argument;
    SOCKET s = accept(job->listener, NULL, NULL);
    if (s == INVALID_SOCKET)
        return 1;
    if (job->framed) { /* the framed servers greet first */
        unsigned char greeting[4 + NET_GREETING_LENGTH];
        net_put_frame_length(greeting, NET_GREETING_LENGTH);
        memcpy(greeting + 4, NET_GREETING, NET_GREETING_LENGTH);
        net_send_all(s, greeting, sizeof greeting);
    }
    char chunk[4096];
    int got;
    while ((got = recv(s, chunk, sizeof chunk, 0)) > 0)
        net_send_all(s, chunk, (size_t)got); /* a frame echoed byte for byte is a frame */
    closesocket(s);
    return 0;
}

static HANDLE start_echo(echo_once *job, unsigned short *port)
{
    job->listener = net_listen_loopback(0, port);
    assert_true(job->listener != INVALID_SOCKET);
    HANDLE thread = CreateThread(NULL, 0, echo_one_connection, job, 0, NULL);
    assert_non_null(thread);
    return thread;
}

static void finish_echo(echo_once *job, HANDLE thread)
{
    tk_assert_wait(WaitForSingleObject(thread, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(thread);
    closesocket(job->listener);
}

static void a_loopback_pair_carries_bytes_both_ways(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_send_all(client, "ping", 4));
    char buffer[4];
    assert_true(net_recv_all(server, buffer, 4));
    assert_memory_equal(buffer, "ping", 4);
    assert_true(net_send_all(server, "pong", 4));
    assert_true(net_recv_all(client, buffer, 4));
    assert_memory_equal(buffer, "pong", 4);
    closesocket(client);
    closesocket(server);
}

static void the_stream_client_gets_a_large_payload_back_byte_exact(void **state)
{
    (void)state;
    enum { size = 1 << 20 }; /* larger than both socket buffers: needs the sender thread */
    static unsigned char payload[size];
    tk_fill_pattern(payload, size, 1);
    echo_once job = {0};
    unsigned short port;
    HANDLE thread = start_echo(&job, &port);

    client_buffer reply;
    assert_true(client_exchange_stream(port, payload, size, TK_PROMPT_MS, &reply));
    assert_int_equal(reply.length, size);
    assert_memory_equal(reply.data, payload, size);
    client_buffer_free(&reply);
    finish_echo(&job, thread);
}

static void the_frame_client_reads_the_greeting_sends_a_length_prefix_and_reads_one_frame(
    void **state)
{
    (void)state;
    echo_once job = {INVALID_SOCKET, true};
    unsigned short port;
    HANDLE thread = start_echo(&job, &port);
    client_buffer reply;
    assert_true(client_exchange_frame(port, "hello", 5, TK_PROMPT_MS, &reply));
    assert_int_equal(reply.length, 5);
    assert_string_equal((char *)reply.data, "hello");
    client_buffer_free(&reply);
    finish_echo(&job, thread);
}

/* Under Wine 8 a receive after a reset reads as an orderly end (0 bytes), while on Windows
 * it fails with WSAECONNRESET; a send fails with WSAECONNRESET on both, so that is what
 * this test checks. */
static void after_a_hard_reset_a_send_fails_with_wsaeconnreset(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    net_hard_reset(client);
    tk_wait_readable(server, TK_PROMPT_MS); /* the reset has arrived */
    assert_int_equal(send(server, "x", 1, 0), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAECONNRESET);
    closesocket(server);
}

static void every_winsock_error_the_tutorial_names_has_a_message(void **state)
{
    (void)state;
    /* Wine 8's FormatMessage has none for these codes (on Windows it has): a line such as
     * "... failed: WSAENOBUFS (10055): ..." must still say something a reader can use. */
    static const DWORD codes[] = {WSAECONNRESET, WSAENOBUFS, WSAESHUTDOWN, WSAECONNREFUSED,
                                  WSAEWOULDBLOCK, WSAENOTSOCK, WSAEINVAL, WSAEISCONN};
    char name[32], message[256];
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *text = error_message(codes[i], message, sizeof message);
        DWORD back = 0;
        assert_true(error_code_of(error_name(codes[i], name, sizeof name), &back));
        assert_int_equal(back, codes[i]);
        assert_true(strlen(text) > 0);
        assert_null(strstr(text, "no message"));
    }
    /* A code nobody names still gets a line that says so. */
    assert_non_null(strstr(error_message(0x2BADBEEF, message, sizeof message), "no message"));
}

static void frame_lengths_are_big_endian(void **state)
{
    (void)state;
    unsigned char header[4];
    net_put_frame_length(header, 0x01020304ul);
    assert_memory_equal(header, "\x01\x02\x03\x04", 4);
    assert_int_equal(net_get_frame_length(header), 0x01020304ul);
}

static void the_parser_rejects_values_out_of_range(void **state)
{
    (void)state;
    server_args args = {7000, 0};
    const cli_option options[] = {CLI_SERVER_OPTIONS(&args)};
    const cli_program program = {"test", "a test", options, 2};
    char *good[] = {"test", "--port", "0", "--seconds", "3"};
    assert_int_equal(cli_parse(&program, 5, good), CLI_OK);
    assert_int_equal(args.port, 0);
    assert_int_equal(args.seconds, 3);
    char *too_big[] = {"test", "--port", "65536"};
    assert_int_equal(cli_parse(&program, 3, too_big), CLI_BAD_USAGE);
    char *not_a_number[] = {"test", "--seconds", "soon"};
    assert_int_equal(cli_parse(&program, 3, not_a_number), CLI_BAD_USAGE);
    char *missing[] = {"test", "--port"};
    assert_int_equal(cli_parse(&program, 2, missing), CLI_BAD_USAGE);
    assert_int_equal(cli_exit_status(CLI_BAD_USAGE), 2);
}

static void the_client_program_rejects_a_bad_flag_with_status_2(void **state)
{
    (void)state;
    tk_process *p = tk_spawn("client", "--port 7 --bogus");
    assert_int_equal(tk_wait_exit(p, 20000), 2);
    assert_non_null(strstr(tk_stderr(p), "unknown option --bogus"));
    assert_non_null(strstr(tk_stderr(p), "usage: client"));
    tk_process_free(p);
}

static void the_client_program_prints_the_echo(void **state)
{
    (void)state;
    echo_once job = {0};
    unsigned short port;
    HANDLE thread = start_echo(&job, &port);
    char args[64];
    snprintf(args, sizeof args, "--port %u --payload round-trip", (unsigned)port);
    tk_process *p = tk_spawn("client", args);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_string_equal(tk_stdout(p), "round-trip\n"); /* a --payload echo ends its line */
    tk_process_free(p);
    finish_echo(&job, thread);
}

/* --hold: idle connections that stay open and send nothing, as chapters 1 to 4 use them.
 * The server closes one of them first; the client counts it at the end. */
static void the_client_program_holds_idle_connections_open(void **state)
{
    (void)state;
    unsigned short port;
    SOCKET listener = net_listen_loopback(0, &port);
    assert_true(listener != INVALID_SOCKET);
    char args[64];
    snprintf(args, sizeof args, "--port %u --hold 3 --seconds 2", (unsigned)port);
    tk_process *p = tk_spawn("client", args);
    char line[128];
    assert_true(tk_wait_for_line(p, "holding 3 connections", 20000, line, sizeof line));
    SOCKET held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = accept(listener, NULL, NULL); /* queued already: it returns at once */
        assert_true(held[i] != INVALID_SOCKET);
    }
    closesocket(held[0]);
    for (int i = 1; i < 3; i++) {
        tk_wait_readable(held[i], 20000); /* the client closes the other two at the end */
        char byte;
        assert_int_equal(recv(held[i], &byte, 1, 0), 0); /* no byte sent, then an orderly end */
        closesocket(held[i]);
    }
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "closed 3 connections; the server had closed 1 first"));
    tk_process_free(p);
    closesocket(listener);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_loopback_pair_carries_bytes_both_ways),
        cmocka_unit_test(the_stream_client_gets_a_large_payload_back_byte_exact),
        cmocka_unit_test(
            the_frame_client_reads_the_greeting_sends_a_length_prefix_and_reads_one_frame),
        cmocka_unit_test(after_a_hard_reset_a_send_fails_with_wsaeconnreset),
        cmocka_unit_test(every_winsock_error_the_tutorial_names_has_a_message),
        cmocka_unit_test(frame_lengths_are_big_endian),
        cmocka_unit_test(the_parser_rejects_values_out_of_range),
        cmocka_unit_test(the_client_program_rejects_a_bad_flag_with_status_2),
        cmocka_unit_test(the_client_program_prints_the_echo),
        cmocka_unit_test(the_client_program_holds_idle_connections_open),
    };
    return cmocka_run_group_tests_name("plumbing", tests, tk_winsock_up, tk_winsock_down);
}
