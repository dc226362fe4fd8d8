/* Checker of exercise 06.2 (find the bug): receive_path_start (receive_path.c) must leave
 * nothing behind when WSARecv fails at once, and must still leave a receive that did start
 * to its completion. It runs on step 06's real socket objects and their real dispose. */
#include <stdio.h>
#include <string.h>

#include "async_socket.h"
#include "receive_path.h"
#include "registry.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

static HANDLE port;

static int set_up(void **state)
{
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    return port != NULL ? tk_winsock_up(state) : -1;
}

static int tear_down(void **state)
{
    winsock_restore();
    CloseHandle(port);
    return tk_winsock_down(state);
}

static registry_totals totals(void)
{
    registry_totals t;
    registry_get_totals(&t);
    return t;
}

static async_socket *connected_socket(SOCKET *peer)
{
    SOCKET mine;
    tk_socket_pair(peer, &mine);
    async_socket *s = async_socket_wrap(mine, 4096, 0);
    assert_non_null(s);
    assert_true(async_socket_attach(s, port, 0));
    return s;
}

static OVERLAPPED *next_completion(DWORD *bytes, DWORD *error)
{
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(port, bytes, &key, &overlapped, TK_PROMPT_MS);
    *error = ok ? 0 : GetLastError();
    if (overlapped == NULL)
        fail_msg("expected the receive's completion packet within %d ms; none came",
                 TK_PROMPT_MS);
    return overlapped;
}

/* Disposes s, as the server does after an immediate failure, and expects nothing left. */
static void assert_dispose_leaves_nothing(async_socket *s, registry_totals before,
                                          const char *failure)
{
    async_socket_dispose(s);
    registry_totals after = totals();
    if (after.contexts != before.contexts || after.sockets != before.sockets)
        fail_msg("expected dispose to free both contexts and the socket object after WSARecv "
                 "failed at once with %s; %ld context(s) (%ld of them disposed and still "
                 "\"in progress\") and %ld socket object(s) were left. No completion will "
                 "ever come for that receive: who clears its flag?",
                 failure, after.contexts - before.contexts,
                 after.disposed_in_progress - before.disposed_in_progress,
                 after.sockets - before.sockets);
}

static void a_receive_failing_with_wsaeshutdown_leaves_nothing_after_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer);
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);

    DWORD error = receive_path_start(s, 0, 16);
    if (error != WSAESHUTDOWN)
        fail_msg("expected receive_path_start to return WSAESHUTDOWN (10058) after "
                 "shutdown(SD_RECEIVE): the caller needs the error to dispose the socket; "
                 "it returned %lu", (unsigned long)error);
    assert_dispose_leaves_nothing(s, before, "WSAESHUTDOWN");
    closesocket(peer);
}

/* The incident's error, through the step's seam: WSARecv fails the way it does on Windows
 * when the reset has already arrived. */
static int WSAAPI receive_fails_at_once(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received,
                                        LPDWORD flags, LPWSAOVERLAPPED overlapped,
                                        LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    (void)s, (void)buffers, (void)count, (void)received, (void)flags, (void)overlapped,
        (void)routine;
    WSASetLastError(WSAECONNRESET);
    return SOCKET_ERROR;
}

static void a_receive_failing_with_wsaeconnreset_leaves_nothing_after_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer);
    winsock.receive = receive_fails_at_once;
    DWORD error = receive_path_start(s, 0, 16);
    winsock_restore();
    if (error != WSAECONNRESET)
        fail_msg("expected receive_path_start to return WSAECONNRESET (10054) when WSARecv "
                 "fails with it; it returned %lu", (unsigned long)error);
    assert_dispose_leaves_nothing(s, before, "WSAECONNRESET");
    closesocket(peer);
}

/* The opposite mistake: a receive that did start belongs to the kernel until its packet
 * comes, so dispose must not free it. */
static void a_pending_receive_is_freed_by_its_aborted_completion_not_by_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer);
    io_context *in = s->in;
    assert_int_equal(receive_path_start(s, 0, 16), 0); /* pending: the peer sends nothing */
    if (!(context_state(in) & CONTEXT_IN_PROGRESS))
        fail_msg("expected a pending receive's context to be \"in progress\"; it was not, so "
                 "dispose would free it while the kernel still owns it");
    async_socket_dispose(s);
    if (totals().contexts - before.contexts != 1)
        fail_msg("expected dispose to leave the pending receive's context to its "
                 "completion (1 context alive); %ld were alive",
                 totals().contexts - before.contexts);

    DWORD bytes = 0, error = 0;
    assert_ptr_equal(next_completion(&bytes, &error), &in->overlapped);
    assert_int_equal(error, ERROR_OPERATION_ABORTED);
    assert_true(context_complete(in, error)); /* the deferred free */
    assert_int_equal(totals().contexts, before.contexts);
    assert_int_equal(totals().sockets, before.sockets);
    closesocket(peer);
}

static void a_receive_that_succeeds_at_once_stays_in_progress_until_its_packet(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer);
    assert_true(net_send_all(peer, "abc", 3));
    tk_wait_readable(s->handle, TK_PROMPT_MS);

    assert_int_equal(receive_path_start(s, 0, 16), 0);
    if (!(context_state(s->in) & CONTEXT_IN_PROGRESS))
        fail_msg("expected a receive that succeeded at once to stay \"in progress\" until "
                 "its packet is handled (the packet is queued anyway); it was not");
    DWORD bytes = 0, error = 0;
    assert_ptr_equal(next_completion(&bytes, &error), &s->in->overlapped);
    assert_int_equal(bytes, 3);
    assert_false(context_complete(s->in, error));
    assert_memory_equal(s->in->buffer, "abc", 3);
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts);
    closesocket(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_receive_failing_with_wsaeshutdown_leaves_nothing_after_dispose),
        cmocka_unit_test(a_receive_failing_with_wsaeconnreset_leaves_nothing_after_dispose),
        cmocka_unit_test(a_pending_receive_is_freed_by_its_aborted_completion_not_by_dispose),
        cmocka_unit_test(a_receive_that_succeeds_at_once_stays_in_progress_until_its_packet),
    };
    return cmocka_run_group_tests_name("exercise 06.2", tests, set_up, tear_down);
}
