/* The rules of I/O completion ports that step 04's server rests on, shown on raw sockets:
 * the four outcomes of GetQueuedCompletionStatus, which calls queue a packet and which do
 * not, and how cancelling and closing end a pending receive. */
#include <string.h>

#include "tutorial/net.h"
#include "tutorial/testkit.h"

#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L /* in the Windows SDK's winerror.h, not in mingw-w64's */
#endif

/* How long a test waits to be sure that NO packet comes. */
enum { NO_PACKET_MS = 300 };

#define SOCKET_KEY ((ULONG_PTR)0x50C)
#define SENTINEL_KEY ((ULONG_PTR)0xDEAD)
#define SENTINEL_BYTES 0xDEADu
#define SENTINEL_OVERLAPPED ((OVERLAPPED *)(ULONG_PTR)0xDEADBEEF)

/* What one GetQueuedCompletionStatus call returned. The out-values start as sentinels, as
 * in Wine's own tests, to show which ones the call wrote. */
typedef struct dequeued {
    BOOL ok;
    DWORD error; /* GetLastError() after the call (meaningful when ok is FALSE) */
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED *overlapped;
} dequeued;

static dequeued dequeue(HANDLE port, DWORD timeout_ms)
{
    dequeued d = {FALSE, 0, SENTINEL_BYTES, SENTINEL_KEY, SENTINEL_OVERLAPPED};
    SetLastError(0);
    d.ok = GetQueuedCompletionStatus(port, &d.bytes, &d.key, &d.overlapped, timeout_ms);
    d.error = GetLastError();
    return d;
}

static HANDLE new_port(void)
{
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(port);
    return port;
}

static void associate(SOCKET s, HANDLE port)
{
    assert_true(CreateIoCompletionPort((HANDLE)s, port, SOCKET_KEY, 0) == port);
}

/* A connected loopback pair whose server side is associated with a new port. */
static HANDLE pair_on_new_port(SOCKET *client, SOCKET *server)
{
    tk_socket_pair(client, server);
    HANDLE port = new_port();
    associate(*server, port);
    return port;
}

static void close_all(SOCKET client, SOCKET server, HANDLE port)
{
    closesocket(client);
    closesocket(server);
    CloseHandle(port);
}

/* Posts a receive into buffer; returns WSARecv's result (0 or SOCKET_ERROR) and the error
 * in *error (0 when it succeeded). */
static int start_receive(SOCKET s, char *buffer, ULONG size, OVERLAPPED *overlapped, int *error)
{
    memset(overlapped, 0, sizeof *overlapped);
    WSABUF wsabuf = {size, buffer};
    DWORD flags = 0;
    int result = WSARecv(s, &wsabuf, 1, NULL, &flags, overlapped, NULL);
    *error = result == 0 ? 0 : WSAGetLastError();
    return result;
}

/* A receive that is surely pending: nothing has been sent yet. */
static void start_pending_receive(SOCKET s, char *buffer, ULONG size, OVERLAPPED *overlapped)
{
    int error = 0;
    assert_int_equal(start_receive(s, buffer, size, overlapped, &error), SOCKET_ERROR);
    tk_assert_error(error, WSA_IO_PENDING);
}

/* ---- the four outcomes of GetQueuedCompletionStatus ----------------------------------- */

static void a_completed_receive_dequeues_as_true_with_its_overlapped_key_and_bytes(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    char buffer[16];
    OVERLAPPED overlapped;
    start_pending_receive(server, buffer, sizeof buffer, &overlapped);

    assert_true(net_send_all(client, "hello", 5));
    dequeued d = dequeue(port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_ptr_equal(d.overlapped, &overlapped);
    assert_int_equal(d.key, SOCKET_KEY);
    assert_int_equal(d.bytes, 5);
    assert_memory_equal(buffer, "hello", 5);
    close_all(client, server, port);
}

static void a_cancelled_receive_dequeues_as_false_with_its_overlapped_and_operation_aborted(
    void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    char buffer[16];
    OVERLAPPED overlapped;
    start_pending_receive(server, buffer, sizeof buffer, &overlapped);

    assert_true(CancelIoEx((HANDLE)server, &overlapped));
    dequeued d = dequeue(port, TK_PROMPT_MS);
    assert_false(d.ok);
    assert_ptr_equal(d.overlapped, &overlapped); /* the I/O failed, the port did not */
    tk_assert_error(d.error, ERROR_OPERATION_ABORTED);
    assert_int_equal(d.bytes, 0);
    close_all(client, server, port);
}

static void an_empty_port_times_out_as_false_with_a_null_overlapped_and_wait_timeout(void **state)
{
    (void)state;
    HANDLE port = new_port();
    dequeued d = dequeue(port, 50);
    assert_false(d.ok);
    tk_assert_error(d.error, WAIT_TIMEOUT);
    assert_null(d.overlapped);
    CloseHandle(port);
}

typedef struct waiter {
    HANDLE port;
    dequeued result;
} waiter;

static DWORD WINAPI wait_on_port(void *argument)
{
    waiter *w = argument;
    w->result = dequeue(w->port, 1000);
    return 0;
}

/* Windows documents that closing the port makes a waiting call return FALSE with
 * ERROR_ABANDONED_WAIT_0. Wine 8 does not wake the waiter: it sleeps until its timeout and
 * gets WAIT_TIMEOUT. Both end with FALSE and no OVERLAPPED, which is what this asserts;
 * the difference is why the server ends its workers with quit packets instead. */
static void closing_the_port_ends_a_waiting_thread_with_false_and_a_null_overlapped(void **state)
{
    (void)state;
    waiter w = {new_port(), {0}};
    HANDLE thread = CreateThread(NULL, 0, wait_on_port, &w, 0, NULL);
    assert_non_null(thread);
    /* Let the thread reach its wait; if it has not, it meets a closed handle instead,
     * which also returns FALSE with no OVERLAPPED (ERROR_INVALID_HANDLE). */
    Sleep(200);
    CloseHandle(w.port);
    tk_assert_wait(WaitForSingleObject(thread, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(thread);
    print_message("after CloseHandle(port) the waiting thread got error %lu\n",
                  (unsigned long)w.result.error);
    assert_false(w.result.ok);
    assert_null(w.result.overlapped);
    assert_true(w.result.error == ERROR_ABANDONED_WAIT_0 || w.result.error == WAIT_TIMEOUT ||
                w.result.error == ERROR_INVALID_HANDLE);
}

static void a_posted_packet_arrives_as_true_with_its_key_and_no_overlapped(void **state)
{
    (void)state;
    HANDLE port = new_port();
    assert_true(PostQueuedCompletionStatus(port, 7, SENTINEL_KEY + 1, NULL));
    dequeued d = dequeue(port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_null(d.overlapped); /* how a worker tells "quit" from I/O */
    assert_int_equal(d.key, SENTINEL_KEY + 1);
    assert_int_equal(d.bytes, 7);
    CloseHandle(port);
}

/* ---- which calls queue a packet -------------------------------------------------------- */

/* snippet:begin immediate_success_test */
static void an_immediate_success_still_queues_a_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    assert_true(net_send_all(client, "ready", 5));
    tk_wait_readable(server, TK_PROMPT_MS); /* the bytes are there before we ask */

    char buffer[16];
    OVERLAPPED overlapped;
    int error = -1;
    assert_int_equal(start_receive(server, buffer, sizeof buffer, &overlapped, &error), 0);

    /* The data is already in buffer, and yet a packet comes: handle the data there, once. */
    dequeued d = dequeue(port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_ptr_equal(d.overlapped, &overlapped);
    assert_int_equal(d.bytes, 5);
    tk_assert_no_completion(port, NO_PACKET_MS); /* exactly one */
    close_all(client, server, port);
}
/* snippet:end immediate_success_test */

static void skip_completion_port_on_success_removes_the_packet_of_an_immediate_success(
    void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    assert_true(SetFileCompletionNotificationModes((HANDLE)server,
                                                   FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));
    assert_true(net_send_all(client, "ready", 5));
    tk_wait_readable(server, TK_PROMPT_MS);

    char buffer[16];
    OVERLAPPED overlapped;
    int error = -1;
    assert_int_equal(start_receive(server, buffer, sizeof buffer, &overlapped, &error), 0);
    assert_memory_equal(buffer, "ready", 5);
    /* No packet: the caller handles the result right where it called. */
    tk_assert_no_completion(port, NO_PACKET_MS);

    /* A receive that goes pending still completes through the port. */
    start_pending_receive(server, buffer, sizeof buffer, &overlapped);
    assert_true(net_send_all(client, "later", 5));
    dequeued d = dequeue(port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_ptr_equal(d.overlapped, &overlapped);
    close_all(client, server, port);
}

/* snippet:begin immediate_failure_test */
static void an_immediate_failure_queues_no_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    net_hard_reset(client);
    tk_wait_readable(server, TK_PROMPT_MS); /* the reset has arrived */

    OVERLAPPED overlapped = {0};
    WSABUF wsabuf = {4, "ping"};
    assert_int_equal(WSASend(server, &wsabuf, 1, NULL, 0, &overlapped, NULL), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAECONNRESET); /* not WSA_IO_PENDING */
    /* No packet, so whoever allocated the context must free it now. */
    tk_assert_no_completion(port, NO_PACKET_MS);
    closesocket(server);
    CloseHandle(port);
}
/* snippet:end immediate_failure_test */

/* ---- ending a pending receive ---------------------------------------------------------- */

static void closing_the_socket_ends_its_pending_receive_with_a_failed_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    char buffer[16];
    OVERLAPPED overlapped;
    start_pending_receive(server, buffer, sizeof buffer, &overlapped);

    closesocket(server); /* what server_stop does to every connection */
    dequeued d = dequeue(port, TK_PROMPT_MS);
    print_message("closesocket ended the pending receive with error %lu\n",
                  (unsigned long)d.error);
    assert_false(d.ok);
    assert_ptr_equal(d.overlapped, &overlapped); /* the packet comes: free the context then */
    /* Microsoft's closesocket page speaks of WSA_OPERATION_ABORTED (995), but Windows gives
     * ERROR_CONNECTION_ABORTED (1236), and Windows XP gave ERROR_NETNAME_DELETED (64): so
     * Wine's own conformance tests expect (dlls/ws2_32/tests/sock.c,
     * iocp_async_read_closesocket, where the check is marked todo_wine: Wine differs).
     * Boost.Asio likewise maps ERROR_NETNAME_DELETED to operation_aborted when it closed the
     * socket itself. Wine 8 reports ERROR_HANDLES_CLOSED (676), or 995. */
    if (tk_under_wine())
        assert_true(d.error == ERROR_HANDLES_CLOSED || d.error == ERROR_OPERATION_ABORTED);
    else
        assert_true(d.error == ERROR_CONNECTION_ABORTED || d.error == ERROR_NETNAME_DELETED);
    closesocket(client);
    CloseHandle(port);
}

/* The incident's situation: the receive failed at once, so nothing is pending, and
 * cancelling cannot produce the packet that would free its context. Windows documents
 * FALSE with ERROR_NOT_FOUND here; Wine 8 returns TRUE. On both, no packet comes. */
static void cancel_io_ex_with_nothing_pending_queues_no_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = pair_on_new_port(&client, &server);
    SetLastError(0);
    BOOL cancelled = CancelIoEx((HANDLE)server, NULL);
    DWORD error = GetLastError();
    print_message("CancelIoEx with nothing pending returned %d (error %lu)\n", cancelled,
                  (unsigned long)error);
    if (!cancelled)
        tk_assert_error(error, ERROR_NOT_FOUND);
    tk_assert_no_completion(port, NO_PACKET_MS);
    close_all(client, server, port);
}

/* ---- the port's concurrency value ---------------------------------------------------- */

/* Two workers on a port created with a concurrency value of 1. The worker that takes the
 * first packet keeps running (it spins, never blocks) until the test lets it go. */
typedef struct one_running {
    HANDLE port;
    HANDLE took_first;     /* set by the worker that took the first packet */
    HANDLE took_second;    /* set by the worker that took the second */
    volatile LONG release; /* 1: the first worker may go back to its wait */
    volatile LONG taken;
} one_running;

static DWORD WINAPI take_packets(void *argument)
{
    one_running *r = argument;
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED *overlapped;
    while (GetQueuedCompletionStatus(r->port, &bytes, &key, &overlapped, TK_PROMPT_MS)) {
        if (InterlockedIncrement(&r->taken) == 1) {
            SetEvent(r->took_first);
            while (InterlockedCompareExchange(&r->release, 0, 0) == 0)
                YieldProcessor(); /* running, not waiting: the port counts it as running */
        } else {
            SetEvent(r->took_second);
            return 0;
        }
    }
    return 0;
}

/* Microsoft's "I/O Completion Ports" page: the port releases no waiting thread while the
 * number of its threads that are running (not blocked) has reached the concurrency value.
 * So on Windows the second packet waits for the first worker to come back. Wine 8 does not
 * enforce the value: the second worker takes the packet at once. Nothing in this tutorial
 * depends on either; this test shows which one the system it runs on does. */
static void a_concurrency_value_of_one_holds_back_a_second_packet_on_windows_not_wine(
    void **state)
{
    (void)state;
    one_running r = {CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1),
                     CreateEventW(NULL, TRUE, FALSE, NULL), CreateEventW(NULL, TRUE, FALSE, NULL),
                     0, 0};
    assert_non_null(r.port);
    HANDLE workers[2];
    for (int i = 0; i < 2; i++) {
        workers[i] = CreateThread(NULL, 0, take_packets, &r, 0, NULL);
        assert_non_null(workers[i]);
    }
    assert_true(PostQueuedCompletionStatus(r.port, 1, 0, NULL));
    tk_assert_wait(WaitForSingleObject(r.took_first, TK_PROMPT_MS), WAIT_OBJECT_0);
    assert_true(PostQueuedCompletionStatus(r.port, 2, 0, NULL));

    DWORD second = WaitForSingleObject(r.took_second, NO_PACKET_MS);
    print_message("a second packet while one worker runs: %s\n",
                  second == WAIT_OBJECT_0 ? "taken at once" : "held back");
    tk_assert_wait(second, net_under_wine() ? WAIT_OBJECT_0 : WAIT_TIMEOUT);

    InterlockedExchange(&r.release, 1); /* the running worker goes back to the port */
    tk_assert_wait(WaitForSingleObject(r.took_second, TK_PROMPT_MS), WAIT_OBJECT_0);
    assert_true(PostQueuedCompletionStatus(r.port, 3, 0, NULL)); /* wakes the other one */
    tk_assert_wait(WaitForMultipleObjects(2, workers, TRUE, TK_PROMPT_MS), WAIT_OBJECT_0);
    for (int i = 0; i < 2; i++)
        CloseHandle(workers[i]);
    CloseHandle(r.took_first);
    CloseHandle(r.took_second);
    CloseHandle(r.port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_completed_receive_dequeues_as_true_with_its_overlapped_key_and_bytes),
        cmocka_unit_test(
            a_cancelled_receive_dequeues_as_false_with_its_overlapped_and_operation_aborted),
        cmocka_unit_test(an_empty_port_times_out_as_false_with_a_null_overlapped_and_wait_timeout),
        cmocka_unit_test(closing_the_port_ends_a_waiting_thread_with_false_and_a_null_overlapped),
        cmocka_unit_test(a_posted_packet_arrives_as_true_with_its_key_and_no_overlapped),
        cmocka_unit_test(an_immediate_success_still_queues_a_packet),
        cmocka_unit_test(skip_completion_port_on_success_removes_the_packet_of_an_immediate_success),
        cmocka_unit_test(an_immediate_failure_queues_no_packet),
        cmocka_unit_test(closing_the_socket_ends_its_pending_receive_with_a_failed_packet),
        cmocka_unit_test(cancel_io_ex_with_nothing_pending_queues_no_packet),
        cmocka_unit_test(a_concurrency_value_of_one_holds_back_a_second_packet_on_windows_not_wine),
    };
    return cmocka_run_group_tests_name("step04 iocp rules", tests, tk_winsock_up,
                                       tk_winsock_down);
}
