/* Checker of exercise 02.2 (find the bug): echo_session must echo every byte exactly
 * once, whether the bytes were already waiting when a receive started (WSARecv finishes
 * at once) or arrive while the receive is pending (then the event says when). */
#include <stdio.h>
#include <string.h>

#include "buggy_echo.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

typedef struct running_session {
    SOCKET s;
    HANDLE thread;
    volatile LONG result; /* -1 while it runs, then 1 (true) or 0 (false) */
} running_session;

static DWORD WINAPI run_session(void *argument)
{
    running_session *r = argument;
    InterlockedExchange(&r->result, echo_session(r->s) ? 1 : 0);
    return 0;
}

static void start_session(running_session *r, SOCKET s)
{
    r->s = s;
    r->result = -1;
    r->thread = CreateThread(NULL, 0, run_session, r, 0, NULL);
    assert_non_null(r->thread);
}

static void expect_session_ended_well(running_session *r)
{
    if (WaitForSingleObject(r->thread, TK_PROMPT_MS) != WAIT_OBJECT_0)
        fail_msg("expected echo_session to return within %d ms of the client closing its "
                 "side; it was still running",
                 TK_PROMPT_MS);
    CloseHandle(r->thread);
    assert_int_equal(r->result, 1);
}

/* Reads everything until the end of the stream (bounded by the receive timeout). */
static size_t read_to_end(SOCKET s, char *buffer, size_t size)
{
    size_t got = 0;
    for (;;) {
        int n = recv(s, buffer + got, (int)(size - got), 0);
        assert_true(n >= 0); /* not a timeout, not an error */
        if (n == 0)
            return got;
        got += (size_t)n;
        assert_true(got < size);
    }
}

static void expect_echoed_once(const char *sent, const char *back, size_t back_length)
{
    size_t length = strlen(sent);
    if (back_length != length || memcmp(back, sent, length) != 0)
        fail_msg("expected each byte echoed exactly once: sent %u bytes \"%s\", got %u back "
                 "\"%.*s\"",
                 (unsigned)length, sent, (unsigned)back_length, (int)back_length, back);
}

static void bytes_waiting_before_the_receive_starts_are_echoed_once(void **state)
{
    (void)state;
    const char *message = "hello, once";
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    assert_true(net_send_all(client, message, strlen(message)));
    assert_int_equal(shutdown(client, SD_SEND), 0);
    tk_wait_readable(server, TK_PROMPT_MS); /* the first WSARecv will finish at once */

    running_session r;
    start_session(&r, server);
    expect_session_ended_well(&r);
    closesocket(server);

    char back[256];
    size_t got = read_to_end(client, back, sizeof back);
    expect_echoed_once(message, back, got);
    closesocket(client);
}

static void messages_sent_one_at_a_time_are_each_echoed_once(void **state)
{
    (void)state;
    const char *messages[] = {"later", "and later still", "x"};
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    running_session r;
    start_session(&r, server); /* its receives are pending now, or start soon after */
    for (int i = 0; i < 3; i++) {
        char back[64] = {0};
        size_t length = strlen(messages[i]);
        assert_true(net_send_all(client, messages[i], length));
        if (!net_recv_all(client, back, length))
            fail_msg("expected \"%s\" echoed within %d ms; it was not", messages[i],
                     TK_PROMPT_MS);
        expect_echoed_once(messages[i], back, length);
    }
    assert_int_equal(shutdown(client, SD_SEND), 0);
    expect_session_ended_well(&r);
    closesocket(server);
    char rest[64];
    size_t extra = read_to_end(client, rest, sizeof rest);
    if (extra != 0)
        fail_msg("expected nothing more after the echoes; got %u more bytes", (unsigned)extra);
    closesocket(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_waiting_before_the_receive_starts_are_echoed_once),
        cmocka_unit_test(messages_sent_one_at_a_time_are_each_echoed_once),
    };
    return cmocka_run_group_tests_name("exercise 02.2", tests, tk_winsock_up, tk_winsock_down);
}
