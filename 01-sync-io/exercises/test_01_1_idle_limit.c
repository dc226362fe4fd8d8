/* Checker of exercise 01.1 (extend): the server drops clients that stay silent.
 *
 * Expects server_config to have `int idle_seconds` (0: no limit) and step01-server to take
 * --idle-seconds N. Until server_config has that field, this file does not compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { LIMIT_SECONDS = 1, LIMIT_MS = LIMIT_SECONDS * 1000 };

static server *start_server_with_idle_limit(int seconds)
{
    server_config config = {0};
    config.idle_seconds = seconds;
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

static SOCKET connect_client(unsigned short port)
{
    SOCKET s = net_connect_loopback(port);
    assert_true(s != INVALID_SOCKET);
    return s;
}

/* Waits up to timeout_ms for an end (or bytes) on s; true if something came. */
static bool readable_within(SOCKET s, DWORD timeout_ms)
{
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(s, &readable);
    struct timeval timeout = {(long)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000};
    return select(0, &readable, NULL, NULL, &timeout) == 1;
}

/* Waits for the server to close a silent client; returns how long that took, in ms. */
static ULONGLONG wait_for_the_server_to_close(SOCKET s, DWORD timeout_ms)
{
    ULONGLONG start = GetTickCount64();
    if (!readable_within(s, timeout_ms))
        fail_msg("expected the server to close a client that sent nothing for %d s; after "
                 "%lu ms it was still open",
                 LIMIT_SECONDS, (unsigned long)timeout_ms);
    ULONGLONG waited = GetTickCount64() - start;
    char byte;
    int got = recv(s, &byte, 1, 0);
    if (got != 0)
        fail_msg("expected the server to close the silent client (recv returning 0); recv "
                 "returned %d (error %d)",
                 got, WSAGetLastError());
    return waited;
}

/* The rule the exercise builds on (the hint's answer): a blocking recv that waits longer
 * than the socket's SO_RCVTIMEO gives up with SOCKET_ERROR and WSAETIMEDOUT. */
static void a_recv_that_waits_past_its_receive_timeout_fails_with_wsaetimedout(void **state)
{
    (void)state;
    SOCKET client, served;
    tk_socket_pair(&client, &served);
    assert_true(net_set_recv_timeout(served, 200));
    ULONGLONG start = GetTickCount64();
    char byte;
    assert_int_equal(recv(served, &byte, 1, 0), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAETIMEDOUT);
    assert_true(GetTickCount64() - start >= 150);
    closesocket(client);
    closesocket(served);
}

static void a_client_that_sends_nothing_is_closed_after_the_idle_limit(void **state)
{
    (void)state;
    server *srv = start_server_with_idle_limit(LIMIT_SECONDS);
    SOCKET silent = connect_client(server_port(srv));
    ULONGLONG waited = wait_for_the_server_to_close(silent, LIMIT_MS + TK_PROMPT_MS);
    if (waited < LIMIT_MS * 8 / 10)
        fail_msg("expected the server to wait about %d ms before closing a silent client; it "
                 "closed it after %llu ms",
                 LIMIT_MS, (unsigned long long)waited);
    print_message("the silent client was closed after %llu ms\n", (unsigned long long)waited);
    if (!server_wait_for_threads(srv, 1, TK_PROMPT_MS))
        fail_msg("expected the silent client's thread to end with its connection; the server "
                 "still runs %ld threads (1 expected: the acceptor)",
                 server_counters_now(srv).threads);
    closesocket(silent);
    server_stop(srv, NULL);
}

/* The limit is on silence, not on the length of a visit: a client that sends something
 * every 300 ms stays as long as it likes, well past the limit. */
static void a_client_that_keeps_talking_stays_past_the_idle_limit(void **state)
{
    (void)state;
    enum { rounds = 8, pause_ms = 300 }; /* 2.4 s, more than twice the limit */
    server *srv = start_server_with_idle_limit(LIMIT_SECONDS);
    SOCKET talker = connect_client(server_port(srv));
    net_set_recv_timeout(talker, TK_PROMPT_MS);
    for (int i = 0; i < rounds; i++) {
        Sleep(pause_ms); /* the silence between messages IS the scenario, not a wait */
        char byte = (char)('a' + i), echo = 0;
        if (!net_send_all(talker, &byte, 1) || recv(talker, &echo, 1, 0) != 1 || echo != byte)
            fail_msg("expected the server to keep a client that sends a byte every %d ms; it "
                     "stopped echoing after %d ms. The clock must start again with every "
                     "receive, not run from the client's arrival",
                     pause_ms, (i + 1) * pause_ms);
    }
    closesocket(talker);
    server_stop(srv, NULL);
}

static void without_a_limit_a_silent_client_stays(void **state)
{
    (void)state;
    server *srv = start_server_with_idle_limit(0);
    SOCKET silent = connect_client(server_port(srv));
    if (readable_within(silent, LIMIT_MS + 500))
        fail_msg("expected idle_seconds = 0 to mean no limit; the server closed a silent "
                 "client within %d ms",
                 LIMIT_MS + 500);
    closesocket(silent);
    server_stop(srv, NULL);
}

static void the_server_program_takes_idle_seconds_and_closes_a_silent_client(void **state)
{
    (void)state;
    static const char prefix[] = "listening on 127.0.0.1:";
    tk_process *p = tk_spawn("step01-server", "--port 0 --seconds 3 --idle-seconds 1");
    char line[128];
    if (!tk_wait_for_line(p, prefix, 20000, line, sizeof line))
        fail_msg("expected step01-server --idle-seconds 1 to start listening; its stderr: %s",
                 tk_stderr(p));
    unsigned short port = (unsigned short)atoi(line + strlen(prefix));
    SOCKET silent = connect_client(port);
    wait_for_the_server_to_close(silent, LIMIT_MS + TK_PROMPT_MS);
    closesocket(silent);
    int status = tk_wait_exit(p, 20000);
    if (status != 0)
        fail_msg("expected step01-server --seconds 3 to exit with status 0; it exited with "
                 "%d, stderr: %s",
                 status, tk_stderr(p));
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_recv_that_waits_past_its_receive_timeout_fails_with_wsaetimedout),
        cmocka_unit_test(a_client_that_sends_nothing_is_closed_after_the_idle_limit),
        cmocka_unit_test(a_client_that_keeps_talking_stays_past_the_idle_limit),
        cmocka_unit_test(without_a_limit_a_silent_client_stays),
        cmocka_unit_test(the_server_program_takes_idle_seconds_and_closes_a_silent_client),
    };
    return cmocka_run_group_tests_name("exercise 01.1", tests, tk_winsock_up, tk_winsock_down);
}
