/* Checker of exercise 03.2 (find the bug): a socket handed to the echo worker from
 * another thread must be echoed, and the worker must close it when the peer leaves. This
 * thread never waits alertably while it waits for the echo: the worker's own thread has
 * to do all the work. */
#include <string.h>

#include "buggy_echo_worker.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* A receive run on a helper thread, so that this thread's wait for it is a plain,
 * non-alertable WaitForSingleObject. */
typedef struct reading {
    SOCKET s;
    char *buffer;
    int wanted;
    int got;   /* bytes received before the end, an error or the timeout */
    bool ended; /* the peer closed (recv returned 0) */
} reading;

static DWORD WINAPI read_until_full_or_end(void *argument)
{
    reading *r = argument;
    while (r->got < r->wanted) {
        int n = recv(r->s, r->buffer + r->got, r->wanted - r->got, 0);
        if (n <= 0) {
            r->ended = n == 0;
            break;
        }
        r->got += n;
    }
    return 0;
}

/* Reads up to wanted bytes from s (bounded by s's receive timeout); returns how many. */
static int read_elsewhere(SOCKET s, char *buffer, int wanted, bool *ended)
{
    reading r = {s, buffer, wanted, 0, false};
    HANDLE helper = CreateThread(NULL, 0, read_until_full_or_end, &r, 0, NULL);
    assert_non_null(helper);
    tk_assert_wait(WaitForSingleObject(helper, 2 * TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(helper);
    if (ended != NULL)
        *ended = r.ended;
    return r.got;
}

static SOCKET adopt_a_client(echo_worker *w)
{
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    assert_true(echo_worker_adopt(w, server)); /* called on this thread */
    return client;
}

static void expect_echo(SOCKET client, const char *message)
{
    char back[64] = {0};
    int length = (int)strlen(message);
    assert_true(net_send_all(client, message, (size_t)length));
    int got = read_elsewhere(client, back, length, NULL);
    if (got != length)
        fail_msg("expected the worker to echo the %d bytes sent on the socket it adopted "
                 "within %d ms; %d came back. Which thread runs the receive's routine?",
                 length, TK_PROMPT_MS, got);
    assert_memory_equal(back, message, (size_t)length);
}

static void expect_closed_by_the_worker(SOCKET client, const char *when)
{
    char byte;
    bool ended = false;
    int got = read_elsewhere(client, &byte, 1, &ended);
    if (got != 0 || !ended)
        fail_msg("expected the worker to close the client %s; it did not within %d ms", when,
                 TK_PROMPT_MS);
    closesocket(client);
}

static void an_adopted_socket_is_echoed_and_closed_by_the_worker(void **state)
{
    (void)state;
    echo_worker *w = echo_worker_start();
    assert_non_null(w);

    SOCKET leaving = adopt_a_client(w);
    expect_echo(leaving, "hello, worker");
    expect_echo(leaving, "and again");
    assert_int_equal(shutdown(leaving, SD_SEND), 0);
    expect_closed_by_the_worker(leaving, "after the client closed its side");
    assert_int_equal(echo_worker_clients(w), 0);

    SOCKET idle = adopt_a_client(w);
    expect_echo(idle, "still here");
    assert_int_equal(echo_worker_clients(w), 1);
    assert_int_equal(echo_worker_bytes_echoed(w), 13 + 9 + 10);
    echo_worker_stop(w); /* cancels the idle client's receive; its routine frees it */
    expect_closed_by_the_worker(idle, "when it stopped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_adopted_socket_is_echoed_and_closed_by_the_worker),
    };
    return cmocka_run_group_tests_name("exercise 03.2", tests, tk_winsock_up, tk_winsock_down);
}
