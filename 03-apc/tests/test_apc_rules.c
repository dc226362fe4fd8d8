/* The rules of completion routines (APCs), as Windows (and Wine) apply them. The server in
 * src/server.c relies on every one of them. */
#include <string.h>

#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* How long a test waits to see that something does NOT happen. */
enum { QUIET_MS = 300 };

/* A receive whose routine writes down what it was told, and on which thread. */
typedef struct recorded_receive {
    WSAOVERLAPPED overlapped;
    char buffer[64];
    volatile LONG runs;
    DWORD error, bytes, thread_id;
} recorded_receive;

static void CALLBACK record(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped, DWORD flags)
{
    (void)flags;
    recorded_receive *r = CONTAINING_RECORD(overlapped, recorded_receive, overlapped);
    r->error = error;
    r->bytes = bytes;
    r->thread_id = GetCurrentThreadId();
    InterlockedIncrement(&r->runs);
}

/* Starts WSARecv with the routine `record`. Returns 0 (done at once) or the error:
 * WSA_IO_PENDING, or the reason it failed at once. */
static int start_receive(SOCKET s, recorded_receive *r)
{
    memset(r, 0, sizeof *r);
    WSABUF whole = {(ULONG)sizeof r->buffer, r->buffer};
    DWORD flags = 0;
    if (WSARecv(s, &whole, 1, NULL, &flags, &r->overlapped, record) == 0)
        return 0;
    return WSAGetLastError();
}

/* A pair whose server side has `bytes` waiting to be read. */
static void pair_with_data(SOCKET *client, SOCKET *server, const char *bytes)
{
    tk_socket_pair(client, server);
    assert_true(net_send_all(*client, bytes, strlen(bytes)));
    tk_wait_readable(*server, TK_PROMPT_MS);
}

static void close_pair(SOCKET client, SOCKET server)
{
    closesocket(client);
    closesocket(server);
}

static void a_routine_runs_only_when_its_thread_waits_alertably(void **state)
{
    (void)state;
    SOCKET client, server;
    pair_with_data(&client, &server, "hello");
    recorded_receive r;
    assert_int_equal(start_receive(server, &r), 0); /* done at once: the routine is queued */

    HANDLE never = CreateEventA(NULL, TRUE, FALSE, NULL);
    assert_int_equal(SleepEx(QUIET_MS, FALSE), 0);
    tk_assert_wait(WaitForSingleObject(never, QUIET_MS), WAIT_TIMEOUT);
    assert_int_equal(r.runs, 0); /* non-alertable waits do not run it */

    tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
    assert_int_equal(r.runs, 1);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.bytes, 5);
    assert_memory_equal(r.buffer, "hello", 5);
    assert_int_equal(r.thread_id, GetCurrentThreadId());
    CloseHandle(never);
    close_pair(client, server);
}

static DWORD WINAPI sleep_alertably_a_while(void *argument)
{
    (void)argument;
    return SleepEx(QUIET_MS, TRUE);
}

static void another_threads_alertable_wait_does_not_run_it(void **state)
{
    (void)state;
    SOCKET client, server;
    pair_with_data(&client, &server, "mine");
    recorded_receive r;
    assert_int_equal(start_receive(server, &r), 0);

    HANDLE other = CreateThread(NULL, 0, sleep_alertably_a_while, NULL, 0, NULL);
    assert_non_null(other);
    tk_assert_wait(WaitForSingleObject(other, TK_PROMPT_MS), WAIT_OBJECT_0);
    DWORD other_result = 1;
    GetExitCodeThread(other, &other_result);
    CloseHandle(other);
    assert_int_equal(other_result, 0); /* its SleepEx timed out: nothing ran there */
    assert_int_equal(r.runs, 0);

    tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
    assert_int_equal(r.runs, 1);
    assert_int_equal(r.thread_id, GetCurrentThreadId());
    close_pair(client, server);
}

static void a_pending_receive_runs_its_routine_after_the_data_arrives(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    recorded_receive r;
    tk_assert_error(start_receive(server, &r), WSA_IO_PENDING);
    assert_int_equal(SleepEx(0, TRUE), 0); /* nothing to run yet */

    assert_true(net_send_all(client, "later", 5));
    tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
    assert_int_equal(r.runs, 1);
    assert_int_equal(r.bytes, 5);
    close_pair(client, server);
}

/* A wait that ran routines returns WAIT_IO_COMPLETION, whatever it was waiting for: a loop
 * around it must check its own condition again. */
static void every_alertable_wait_returns_wait_io_completion_after_a_routine(void **state)
{
    (void)state;
    HANDLE never = CreateEventA(NULL, TRUE, FALSE, NULL);
    for (int kind = 0; kind < 3; kind++) {
        SOCKET client, server;
        pair_with_data(&client, &server, "x");
        recorded_receive r;
        assert_int_equal(start_receive(server, &r), 0);
        if (kind == 0)
            tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
        else if (kind == 1)
            tk_assert_wait(WaitForSingleObjectEx(never, TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
        else
            tk_assert_error(WSAWaitForMultipleEvents(1, &never, FALSE, TK_PROMPT_MS, TRUE), WSA_WAIT_IO_COMPLETION);
        assert_int_equal(r.runs, 1);
        close_pair(client, server);
    }
    tk_assert_error(WAIT_IO_COMPLETION, WSA_WAIT_IO_COMPLETION); /* the same number, 192 */
    CloseHandle(never);
}

static void an_operation_that_fails_at_once_never_runs_its_routine(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_int_equal(shutdown(server, SD_RECEIVE), 0);
    recorded_receive r;
    tk_assert_error(start_receive(server, &r), WSAESHUTDOWN);
    close_pair(client, server);

    /* The incident's path: the peer's reset has arrived before the send starts. */
    tk_socket_pair(&client, &server);
    net_hard_reset(client);
    tk_wait_readable(server, TK_PROMPT_MS);
    recorded_receive s = {0};
    char data[] = "echo";
    WSABUF what = {4, data};
    assert_int_equal(WSASend(server, &what, 1, NULL, 0, &s.overlapped, record), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAECONNRESET);

    assert_int_equal(SleepEx(QUIET_MS, TRUE), 0); /* timed out: no routine for either */
    assert_int_equal(r.runs, 0);
    assert_int_equal(s.runs, 0);
    closesocket(server);
}

/* What the server does at shutdown: cancel, then let the routine free the client. */
static void a_cancelled_receive_runs_its_routine_with_operation_aborted(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    recorded_receive r;
    tk_assert_error(start_receive(server, &r), WSA_IO_PENDING);
    assert_true(CancelIoEx((HANDLE)server, &r.overlapped));
    tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
    assert_int_equal(r.runs, 1);
    tk_assert_error(r.error, WSA_OPERATION_ABORTED);
    assert_int_equal(r.bytes, 0);
    close_pair(client, server);
}

typedef struct apc_mark {
    volatile LONG runs;
    DWORD thread_id;
} apc_mark;

static void CALLBACK mark(ULONG_PTR argument)
{
    apc_mark *m = (apc_mark *)argument;
    m->thread_id = GetCurrentThreadId();
    InterlockedIncrement(&m->runs);
}

/* Signals `ready` (the thread runs now), then sleeps alertably. An APC queued before a
 * thread has started would run as it starts, outside any wait: hence the event. */
static DWORD WINAPI sleep_alertably_until_woken(void *ready)
{
    SetEvent(ready);
    return SleepEx(INFINITE, TRUE);
}

/* How server_stop reaches the server's thread. */
static void a_queued_apc_runs_in_the_target_threads_alertable_wait(void **state)
{
    (void)state;
    apc_mark here = {0};
    assert_true(QueueUserAPC(mark, GetCurrentThread(), (ULONG_PTR)&here));
    assert_int_equal(SleepEx(QUIET_MS, FALSE), 0);
    assert_int_equal(here.runs, 0);
    tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
    assert_int_equal(here.runs, 1);

    apc_mark there = {0};
    DWORD other_id = 0;
    HANDLE ready = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE other = CreateThread(NULL, 0, sleep_alertably_until_woken, ready, 0, &other_id);
    assert_non_null(other);
    tk_assert_wait(WaitForSingleObject(ready, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(ready);
    assert_true(QueueUserAPC(mark, other, (ULONG_PTR)&there));
    tk_assert_wait(WaitForSingleObject(other, TK_PROMPT_MS), WAIT_OBJECT_0);
    DWORD result = 0;
    GetExitCodeThread(other, &result);
    CloseHandle(other);
    tk_assert_wait(result, WAIT_IO_COMPLETION);
    assert_int_equal(there.runs, 1);
    assert_int_equal(there.thread_id, other_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_routine_runs_only_when_its_thread_waits_alertably),
        cmocka_unit_test(another_threads_alertable_wait_does_not_run_it),
        cmocka_unit_test(a_pending_receive_runs_its_routine_after_the_data_arrives),
        cmocka_unit_test(every_alertable_wait_returns_wait_io_completion_after_a_routine),
        cmocka_unit_test(an_operation_that_fails_at_once_never_runs_its_routine),
        cmocka_unit_test(a_cancelled_receive_runs_its_routine_with_operation_aborted),
        cmocka_unit_test(a_queued_apc_runs_in_the_target_threads_alertable_wait),
    };
    return cmocka_run_group_tests_name("step03 APC rules", tests, tk_winsock_up,
                                       tk_winsock_down);
}
