/* The import layer (tutorial/faults.h) carries out every outcome of the fault plan, from
 * outside the code that makes the calls: on a real loopback connection and a real
 * completion port, each outcome is checked against what Windows promises for it (a call
 * that fails at once queues no packet, a short call moves exactly that many bytes, a lost
 * packet never comes, an early packet is dequeued before its call returns, ...). With
 * nothing to do, the layer installs nothing: the program calls Windows directly. */
#include <winsock2.h>
#include <mswsock.h>

#include <string.h>

#include "tutorial/errors.h"
#include "tutorial/fault_plan.h"
#include "tutorial/faults.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { QUIET_MS = 300 };

static void set(const char *plan)
{
    char why[200] = "";
    if (!fault_plan_set(plan, why, sizeof why))
        fail_msg("not a plan: %s (%s)", plan != NULL ? plan : "(none)", why);
}

/* A connection whose server side is tied to a fresh completion port. */
typedef struct link {
    SOCKET client, server;
    HANDLE port;
    OVERLAPPED overlapped;
    char buffer[64];
} link;

static void open_link(link *l)
{
    memset(l, 0, sizeof *l);
    tk_socket_pair(&l->client, &l->server);
    assert_true(net_set_recv_timeout(l->client, TK_PROMPT_MS));
    l->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(l->port);
    assert_true(CreateIoCompletionPort((HANDLE)l->server, l->port, 7, 0) == l->port);
}

static void close_link(link *l)
{
    closesocket(l->client);
    closesocket(l->server);
    CloseHandle(l->port);
    set(NULL);
}

/* WSARecv into l->buffer: 0, or SOCKET_ERROR with the error in *error. */
static int receive(link *l, DWORD length, int *error)
{
    WSABUF buffer = {length, l->buffer};
    DWORD flags = 0;
    memset(&l->overlapped, 0, sizeof l->overlapped);
    int answer = WSARecv(l->server, &buffer, 1, NULL, &flags, &l->overlapped, NULL);
    *error = answer == 0 ? 0 : WSAGetLastError();
    return answer;
}

static int send_text(link *l, const char *text, int *error)
{
    WSABUF buffer = {(ULONG)strlen(text), (char *)text};
    memset(&l->overlapped, 0, sizeof l->overlapped);
    int answer = WSASend(l->server, &buffer, 1, NULL, 0, &l->overlapped, NULL);
    *error = answer == 0 ? 0 : WSAGetLastError();
    return answer;
}

/* The next packet on l's port: it must come, for l's OVERLAPPED. */
static DWORD next_packet(link *l, DWORD *error)
{
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(l->port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    *error = ok ? 0 : GetLastError();
    assert_ptr_equal(overlapped, &l->overlapped);
    assert_int_equal(key, 7);
    return bytes;
}

/* ---- with nothing to do, nothing is installed ---------------------------------------- */

/* Whether the program's import of function points into another module (a DLL of
 * Windows or of the C runtime) rather than into the program itself, where the stand-ins
 * live. */
static bool imported_from_a_dll(const char *function)
{
    HMODULE module = NULL;
    tk_function target = tk_import_target(function);
    LPCSTR address = NULL;
    memcpy(&address, &target, sizeof address); /* a code address, as the call wants it */
    if (target == NULL ||
        !GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                                GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            address, &module))
        return false;
    return module != GetModuleHandleW(NULL);
}

/* The first test of the program, before anything installs the stand-ins. */
static void with_no_plan_the_program_calls_windows_directly(void **state)
{
    (void)state;
    char why[160];
    assert_true(faults_install(NULL, false, why, sizeof why));
    assert_true(faults_install("", false, why, sizeof why));
    assert_true(imported_from_a_dll("WSARecv"));
    assert_true(imported_from_a_dll("GetQueuedCompletionStatus"));
    assert_true(imported_from_a_dll("malloc"));
    assert_false(faults_install("receive#1=explode", false, why, sizeof why));
    print_message("a bad plan: %s\n", why);
    /* the reset semantics alone: installed only where they have work, under Wine */
    assert_true(faults_install(NULL, true, why, sizeof why));
    assert_true(imported_from_a_dll("WSARecv") == !tk_under_wine());
    faults_set_windows_resets(false);
}

static int install(void **state)
{
    faults_hook_imports();
    return tk_winsock_up(state);
}

/* ---- starting an operation ----------------------------------------------------------- */

static void fail_at_once_queues_no_packet(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("receive#1=fail:WSAECONNRESET");
    int error = 0;
    assert_int_equal(receive(&l, sizeof l.buffer, &error), SOCKET_ERROR);
    tk_assert_error(error, WSAECONNRESET);
    assert_true(net_send_all(l.client, "x", 1)); /* data comes, yet nothing was started */
    tk_assert_no_completion(l.port, QUIET_MS);
    assert_int_equal(fault_plan_fired("receive"), 1);
    close_link(&l);
}

static void now_and_pending_change_the_answer_not_the_packet(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("receive#1=now,receive#2=pending");
    int error = 0;
    assert_int_equal(receive(&l, sizeof l.buffer, &error), 0); /* nothing has arrived yet */
    assert_true(net_send_all(l.client, "ab", 2));
    assert_int_equal(next_packet(&l, (DWORD *)&error), 2);
    assert_true(net_send_all(l.client, "cd", 2));
    tk_wait_readable(l.server, TK_PROMPT_MS);
    assert_int_equal(receive(&l, sizeof l.buffer, &error), SOCKET_ERROR); /* done at once */
    tk_assert_error(error, WSA_IO_PENDING);
    assert_int_equal(next_packet(&l, (DWORD *)&error), 2);
    tk_assert_no_completion(l.port, QUIET_MS); /* one packet each, never two */
    close_link(&l);
}

static void short_moves_exactly_that_many_bytes(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("receive#1=short:3,send#1=short:2");
    assert_true(net_send_all(l.client, "hello", 5));
    tk_wait_readable(l.server, TK_PROMPT_MS);
    int error = 0;
    receive(&l, sizeof l.buffer, &error);
    DWORD packet_error = 0;
    assert_int_equal(next_packet(&l, &packet_error), 3);
    assert_memory_equal(l.buffer, "hel", 3);
    receive(&l, sizeof l.buffer, &error);
    assert_int_equal(next_packet(&l, &packet_error), 2); /* the rest is still there */
    assert_memory_equal(l.buffer, "lo", 2);
    send_text(&l, "world", &error);
    assert_int_equal(next_packet(&l, &packet_error), 2); /* a partial send */
    char got[8] = "";
    assert_true(net_recv_all(l.client, got, 2));
    assert_memory_equal(got, "wo", 2);
    u_long more = 1;
    assert_int_equal(ioctlsocket(l.client, FIONREAD, &more), 0);
    assert_int_equal(more, 0); /* nothing past the short send's bytes */
    close_link(&l);
}

static void lost_is_pending_and_its_packet_never_comes(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("receive#1=lost");
    int error = 0;
    assert_int_equal(receive(&l, sizeof l.buffer, &error), SOCKET_ERROR);
    tk_assert_error(error, WSA_IO_PENDING);
    assert_false(HasOverlappedIoCompleted(&l.overlapped)); /* it looks held */
    assert_true(net_send_all(l.client, "x", 1));
    tk_assert_no_completion(l.port, QUIET_MS);
    close_link(&l);
}

typedef struct dequeuer {
    HANDLE port;
    volatile LONG dequeued;
} dequeuer;

static DWORD WINAPI dequeue_one(void *argument)
{
    dequeuer *d = argument;
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    GetQueuedCompletionStatus(d->port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    if (overlapped != NULL)
        InterlockedExchange(&d->dequeued, 1);
    return 0;
}

/* "early": the packet is taken off the port by another thread before the call returns,
 * the race a worker pool can always win. */
static void early_returns_after_a_worker_dequeued_the_packet(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    dequeuer d = {l.port, 0};
    HANDLE worker = CreateThread(NULL, 0, dequeue_one, &d, 0, NULL);
    assert_non_null(worker);
    assert_true(net_send_all(l.client, "x", 1));
    tk_wait_readable(l.server, TK_PROMPT_MS);
    set("receive#1=early");
    int error = 0;
    receive(&l, sizeof l.buffer, &error);
    assert_int_equal(InterlockedCompareExchange(&d.dequeued, 0, 0), 1);
    tk_assert_wait(WaitForSingleObject(worker, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(worker);
    close_link(&l);
}

static void a_rule_on_one_connection_leaves_the_others_alone(void **state)
{
    (void)state;
    link first, second;
    open_link(&first);
    open_link(&second);
    set("receive@2#1=fail:WSAENOTCONN");
    int error = 0;
    assert_int_equal(receive(&first, sizeof first.buffer, &error), SOCKET_ERROR); /* conn 1 */
    tk_assert_error(error, WSA_IO_PENDING);
    assert_int_equal(receive(&second, sizeof second.buffer, &error), SOCKET_ERROR); /* conn 2 */
    tk_assert_error(error, WSAENOTCONN);
    close_link(&second);
    closesocket(first.client); /* ends the pending receive */
    DWORD packet_error = 0;
    next_packet(&first, &packet_error);
    closesocket(first.server);
    CloseHandle(first.port);
}

/* ---- packets ------------------------------------------------------------------------- */

static void a_packet_can_be_made_an_error_or_an_orderly_end(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("receive-done#1=error:ERROR_NETNAME_DELETED,receive-done#2=eof");
    int error = 0;
    receive(&l, sizeof l.buffer, &error);
    assert_true(net_send_all(l.client, "abc", 3));
    DWORD packet_error = 0;
    assert_int_equal(next_packet(&l, &packet_error), 0);
    tk_assert_error(packet_error, ERROR_NETNAME_DELETED);
    DWORD bytes = 0, flags = 0;
    assert_false(WSAGetOverlappedResult(l.server, &l.overlapped, &bytes, FALSE, &flags));
    receive(&l, sizeof l.buffer, &error);
    assert_true(net_send_all(l.client, "de", 2));
    assert_int_equal(next_packet(&l, &packet_error), 0); /* eof: success, 0 bytes */
    assert_int_equal(packet_error, 0);
    close_link(&l);
}

static void the_batch_dequeue_gets_the_same_outcomes(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("receive-done#1=error:WSAECONNRESET");
    int error = 0;
    receive(&l, sizeof l.buffer, &error);
    assert_true(net_send_all(l.client, "abc", 3));
    OVERLAPPED_ENTRY entries[4];
    ULONG removed = 0;
    assert_true(GetQueuedCompletionStatusEx(l.port, entries, 4, &removed, TK_PROMPT_MS, FALSE));
    assert_int_equal(removed, 1);
    assert_ptr_equal(entries[0].lpOverlapped, &l.overlapped);
    assert_int_equal(entries[0].dwNumberOfBytesTransferred, 0);
    assert_int_not_equal(entries[0].Internal, 0);
    DWORD bytes = 0, flags = 0;
    assert_false(WSAGetOverlappedResult(l.server, &l.overlapped, &bytes, FALSE, &flags));
    tk_assert_error(WSAGetLastError(), WSAECONNRESET);
    close_link(&l);
}

/* With an INFINITE wait, GetQueuedCompletionStatus returns without a packet only when its
 * port is closed: ERROR_ABANDONED_WAIT_0. The packet stays queued. */
static void a_dequeue_can_fail_as_a_closed_port_does(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("dequeue#1=fail:ERROR_ABANDONED_WAIT_0,dequeue#2=fail:WAIT_TIMEOUT");
    int error = 0;
    receive(&l, sizeof l.buffer, &error);
    assert_true(net_send_all(l.client, "abc", 3));
    assert_true(tk_wait_until_completed(&l.overlapped, TK_PROMPT_MS));
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = (OVERLAPPED *)(ULONG_PTR)1;
    assert_false(GetQueuedCompletionStatus(l.port, &bytes, &key, &overlapped, INFINITE));
    assert_null(overlapped);
    tk_assert_error(GetLastError(), ERROR_ABANDONED_WAIT_0);
    /* WAIT_TIMEOUT cannot end an INFINITE wait: that rule lets the packet through */
    assert_true(GetQueuedCompletionStatus(l.port, &bytes, &key, &overlapped, INFINITE));
    assert_ptr_equal(overlapped, &l.overlapped);
    close_link(&l);
}

/* ---- every other call ---------------------------------------------------------------- */

static void the_other_calls_fail_as_planned(void **state)
{
    (void)state;
    link l;
    open_link(&l);
    set("post#1=fail:ERROR_NO_SYSTEM_RESOURCES,cancel#1=fail:ERROR_NOT_FOUND,"
        "update-context#1=fail:WSAENOTCONN,socket#1=fail:WSAEMFILE,port#1=fail:8,"
        "attach#1=fail:ERROR_INVALID_PARAMETER,alloc#1=fail");
    assert_false(PostQueuedCompletionStatus(l.port, 0, 0, NULL));
    tk_assert_error(GetLastError(), ERROR_NO_SYSTEM_RESOURCES);
    assert_true(PostQueuedCompletionStatus(l.port, 0, 0, NULL)); /* #2: real */
    int error = 0;
    receive(&l, sizeof l.buffer, &error);
    assert_false(CancelIoEx((HANDLE)l.server, NULL)); /* not made: the receive stays */
    tk_assert_error(GetLastError(), ERROR_NOT_FOUND);
    SOCKET listener = INVALID_SOCKET;
    assert_int_equal(setsockopt(l.server, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                                (const char *)&listener, sizeof listener),
                     SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAENOTCONN);
    assert_true(WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED) ==
                INVALID_SOCKET);
    tk_assert_error(WSAGetLastError(), WSAEMFILE);
    assert_null(CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0));
    tk_assert_error(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    assert_null(CreateIoCompletionPort((HANDLE)l.client, l.port, 0, 0));
    tk_assert_error(GetLastError(), ERROR_INVALID_PARAMETER);
    void *block = malloc(16);
    assert_null(block);
    block = malloc(16); /* #2: real */
    assert_non_null(block);
    free(block);
    assert_true(net_send_all(l.client, "x", 1)); /* the receive was never cancelled */
    DWORD packet_error = 0;
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    GetQueuedCompletionStatus(l.port, &bytes, &key, &overlapped, TK_PROMPT_MS); /* the post */
    assert_null(overlapped);
    assert_int_equal(next_packet(&l, &packet_error), 1);
    assert_int_equal(packet_error, 0);
    close_link(&l);
    assert_int_equal(fault_plan_calls("close"), 0); /* set(NULL) in close_link starts anew */
}

/* ---- AcceptEx, which a program asks WSAIoctl for -------------------------------------- */

static void accept_ex_from_wsaioctl_takes_the_plan_too(void **state)
{
    (void)state;
    unsigned short port = 0;
    SOCKET listener = net_listen_loopback(0, &port);
    HANDLE completion = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_true(CreateIoCompletionPort((HANDLE)listener, completion, 0, 0) == completion);
    LPFN_ACCEPTEX accept_ex = NULL;
    GUID id = WSAID_ACCEPTEX;
    DWORD returned = 0;
    assert_int_equal(WSAIoctl(listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id,
                              &accept_ex, sizeof accept_ex, &returned, NULL, NULL),
                     0);
    set("accept#1=fail:WSAECONNRESET,accept#2=lost");
    SOCKET accepted = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    char addresses[2 * (sizeof(SOCKADDR_STORAGE) + 16)];
    OVERLAPPED overlapped = {0};
    DWORD received = 0;
    assert_false(accept_ex(listener, accepted, addresses, 0, sizeof addresses / 2,
                           sizeof addresses / 2, &received, &overlapped));
    tk_assert_error(WSAGetLastError(), WSAECONNRESET);
    assert_false(accept_ex(listener, accepted, addresses, 0, sizeof addresses / 2,
                           sizeof addresses / 2, &received, &overlapped));
    tk_assert_error(WSAGetLastError(), ERROR_IO_PENDING);
    SOCKET client = net_connect_loopback(port); /* nobody accepts it: no AcceptEx is real */
    tk_assert_no_completion(completion, QUIET_MS);
    assert_int_equal(fault_plan_fired("accept"), 2);
    closesocket(client);
    closesocket(accepted);
    closesocket(listener);
    CloseHandle(completion);
    set(NULL);
}

/* ---- Windows' reset semantics -------------------------------------------------------- */

/* A WSARecv started after the peer's reset fails at once with WSAECONNRESET: on Windows by
 * itself, under Wine because the semantics answer for Wine (which reads 0 bytes). */
static void a_receive_after_a_reset_fails_at_once_as_on_windows(void **state)
{
    (void)state;
    faults_set_windows_resets(true);
    link l;
    open_link(&l);
    net_hard_reset(l.client);
    l.client = INVALID_SOCKET;
    tk_wait_readable(l.server, TK_PROMPT_MS);
    long answered = faults_resets_answered();
    int error = 0;
    assert_int_equal(receive(&l, sizeof l.buffer, &error), SOCKET_ERROR);
    tk_assert_error(error, WSAECONNRESET);
    tk_assert_no_completion(l.port, QUIET_MS);
    assert_int_equal(faults_resets_answered() - answered, tk_under_wine() ? 1 : 0);
    faults_set_windows_resets(false);
    close_link(&l);
}

int main(void)
{
    const struct CMUnitTest first[] = {
        cmocka_unit_test(with_no_plan_the_program_calls_windows_directly),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_at_once_queues_no_packet),
        cmocka_unit_test(now_and_pending_change_the_answer_not_the_packet),
        cmocka_unit_test(short_moves_exactly_that_many_bytes),
        cmocka_unit_test(lost_is_pending_and_its_packet_never_comes),
        cmocka_unit_test(early_returns_after_a_worker_dequeued_the_packet),
        cmocka_unit_test(a_rule_on_one_connection_leaves_the_others_alone),
        cmocka_unit_test(a_packet_can_be_made_an_error_or_an_orderly_end),
        cmocka_unit_test(the_batch_dequeue_gets_the_same_outcomes),
        cmocka_unit_test(a_dequeue_can_fail_as_a_closed_port_does),
        cmocka_unit_test(the_other_calls_fail_as_planned),
        cmocka_unit_test(accept_ex_from_wsaioctl_takes_the_plan_too),
        cmocka_unit_test(a_receive_after_a_reset_fails_at_once_as_on_windows),
    };
    int failed = cmocka_run_group_tests_name("faults: nothing installed", first, tk_winsock_up,
                                             tk_winsock_down);
    return failed + cmocka_run_group_tests_name("faults", tests, install, tk_winsock_down);
}
