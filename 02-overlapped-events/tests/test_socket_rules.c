/* The rules of overlapped socket I/O with events, as Windows (and Wine) apply them. The
 * server in src/server.c relies on every one of them. */
#include <string.h>

#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* How long a test waits to see that something does NOT happen. */
enum { QUIET_MS = 300 };

typedef struct receive_op {
    WSAOVERLAPPED overlapped;
    char buffer[64];
} receive_op;

/* Starts an overlapped WSARecv into op with a fresh manual-reset event. Returns 0 (done at
 * once) or the error: WSA_IO_PENDING, or the reason it failed at once. */
static int start_receive(SOCKET s, receive_op *op)
{
    memset(op, 0, sizeof *op);
    op->overlapped.hEvent = WSACreateEvent();
    assert_true(op->overlapped.hEvent != WSA_INVALID_EVENT);
    WSABUF whole = {(ULONG)sizeof op->buffer, op->buffer};
    DWORD flags = 0;
    if (WSARecv(s, &whole, 1, NULL, &flags, &op->overlapped, NULL) == 0)
        return 0;
    return WSAGetLastError();
}

static DWORD wait_event(receive_op *op, DWORD timeout_ms)
{
    return WaitForSingleObject(op->overlapped.hEvent, timeout_ms);
}

static void a_pending_receive_signals_its_event_only_when_data_arrives(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    receive_op op;
    tk_assert_error(start_receive(server, &op), WSA_IO_PENDING);
    tk_assert_wait(wait_event(&op, 0), WAIT_TIMEOUT);

    assert_true(net_send_all(client, "hello", 5));
    tk_assert_wait(wait_event(&op, TK_PROMPT_MS), WAIT_OBJECT_0);
    DWORD bytes = 0, flags = 0;
    assert_true(WSAGetOverlappedResult(server, &op.overlapped, &bytes, FALSE, &flags));
    assert_int_equal(bytes, 5);
    assert_memory_equal(op.buffer, "hello", 5);
    WSACloseEvent(op.overlapped.hEvent);
    closesocket(client);
    closesocket(server);
}

/* So a loop that handles the data where WSARecv returned 0 AND again when the event
 * fires echoes it twice: handle it in one place only. */
static void a_receive_that_succeeds_at_once_still_signals_its_event(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_send_all(client, "ready", 5));
    tk_wait_readable(server, TK_PROMPT_MS);

    receive_op op;
    assert_int_equal(start_receive(server, &op), 0); /* the bytes were there already */
    tk_assert_wait(wait_event(&op, 0), WAIT_OBJECT_0);
    DWORD bytes = 0, flags = 0;
    assert_true(WSAGetOverlappedResult(server, &op.overlapped, &bytes, FALSE, &flags));
    assert_int_equal(bytes, 5);
    WSACloseEvent(op.overlapped.hEvent);
    closesocket(client);
    closesocket(server);
}

static void a_receive_after_shutdown_fails_at_once_and_never_signals_its_event(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_int_equal(shutdown(server, SD_RECEIVE), 0);

    receive_op op;
    tk_assert_error(start_receive(server, &op), WSAESHUTDOWN);
    assert_true(net_send_all(client, "late", 4)); /* even with data arriving later */
    tk_assert_wait(wait_event(&op, QUIET_MS), WAIT_TIMEOUT);
    WSACloseEvent(op.overlapped.hEvent);
    closesocket(client);
    closesocket(server);
}

/* The incident's path: the peer's reset has arrived before the operation starts. */
static void a_send_after_the_peer_reset_fails_at_once_and_never_signals_its_event(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    net_hard_reset(client);
    tk_wait_readable(server, TK_PROMPT_MS); /* the reset has arrived */

    WSAOVERLAPPED overlapped = {0};
    overlapped.hEvent = WSACreateEvent();
    char data[] = "echo";
    WSABUF what = {4, data};
    assert_int_equal(WSASend(server, &what, 1, NULL, 0, &overlapped, NULL), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAECONNRESET);
    tk_assert_wait(WaitForSingleObject(overlapped.hEvent, QUIET_MS), WAIT_TIMEOUT);
    WSACloseEvent(overlapped.hEvent);
    closesocket(server);
}

/* What the server does at shutdown: cancel, then wait for the event before freeing. */
static void a_cancelled_receive_signals_its_event_with_operation_aborted(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    receive_op op;
    tk_assert_error(start_receive(server, &op), WSA_IO_PENDING);

    assert_true(CancelIoEx((HANDLE)server, &op.overlapped));
    tk_assert_wait(wait_event(&op, TK_PROMPT_MS), WAIT_OBJECT_0);
    DWORD bytes = 0, flags = 0;
    assert_false(WSAGetOverlappedResult(server, &op.overlapped, &bytes, FALSE, &flags));
    tk_assert_error(WSAGetLastError(), WSA_OPERATION_ABORTED);
    /* Nothing is pending any more: a second cancel finds nothing. */
    assert_false(CancelIoEx((HANDLE)server, &op.overlapped));
    tk_assert_error(GetLastError(), ERROR_NOT_FOUND);
    WSACloseEvent(op.overlapped.hEvent);
    closesocket(client);
    closesocket(server);
}

static void one_wait_takes_at_most_64_events(void **state)
{
    (void)state;
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS + 1];
    for (int i = 0; i <= WSA_MAXIMUM_WAIT_EVENTS; i++)
        events[i] = WSACreateEvent();
    WSASetEvent(events[WSA_MAXIMUM_WAIT_EVENTS - 1]);

    assert_int_equal(WSA_MAXIMUM_WAIT_EVENTS, 64);
    tk_assert_error(WSAWaitForMultipleEvents(64, events, FALSE, 0, FALSE), WSA_WAIT_EVENT_0 + 63);
    tk_assert_error(WSAWaitForMultipleEvents(65, events, FALSE, 0, FALSE), WSA_WAIT_FAILED);
    tk_assert_error(WSAGetLastError(), WSA_INVALID_PARAMETER);
    for (int i = 0; i <= WSA_MAXIMUM_WAIT_EVENTS; i++)
        WSACloseEvent(events[i]);
}

/* Why the server looks at every slot after a wait, not just the one it names. */
static void the_wait_names_only_the_lowest_signalled_event(void **state)
{
    (void)state;
    WSAEVENT events[6];
    for (int i = 0; i < 6; i++)
        events[i] = WSACreateEvent();
    WSASetEvent(events[5]);
    WSASetEvent(events[3]);
    for (int round = 0; round < 3; round++) /* again and again: 5 is never named */
        tk_assert_error(WSAWaitForMultipleEvents(6, events, FALSE, 0, FALSE), WSA_WAIT_EVENT_0 + 3);
    WSAResetEvent(events[3]);
    tk_assert_error(WSAWaitForMultipleEvents(6, events, FALSE, 0, FALSE), WSA_WAIT_EVENT_0 + 5);
    for (int i = 0; i < 6; i++)
        WSACloseEvent(events[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_pending_receive_signals_its_event_only_when_data_arrives),
        cmocka_unit_test(a_receive_that_succeeds_at_once_still_signals_its_event),
        cmocka_unit_test(a_receive_after_shutdown_fails_at_once_and_never_signals_its_event),
        cmocka_unit_test(a_send_after_the_peer_reset_fails_at_once_and_never_signals_its_event),
        cmocka_unit_test(a_cancelled_receive_signals_its_event_with_operation_aborted),
        cmocka_unit_test(one_wait_takes_at_most_64_events),
        cmocka_unit_test(the_wait_names_only_the_lowest_signalled_event),
    };
    return cmocka_run_group_tests_name("step02 socket rules", tests, tk_winsock_up,
                                       tk_winsock_down);
}
