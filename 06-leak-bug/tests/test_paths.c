/* Each path that starts an operation, driven to an immediate failure one at a time: the
 * call fails at once, no completion packet comes, and what dispose leaves behind is the
 * leak (step 06: one context per failure) or nothing (step 07). The same file runs in both
 * steps; LEAK_FIXED (set by the step's CMakeLists.txt) says which outcome to expect. */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tutorial/errors.h"
#include "tutorial/faults.h"
#include "tutorial/net.h"

#if LEAK_FIXED
enum { LEAKED_PER_FAILURE = 0 };
#else
enum { LEAKED_PER_FAILURE = 1 };
#endif

/* How long "no completion comes" is given to be proven wrong. */
enum { QUIET_MS = 300 };

/* Disposes s and checks what is left compared with before. */
static void assert_dispose_leaves_the_expected_leak(async_socket *s, registry_totals before)
{
    async_socket_dispose(s);
    registry_totals after = totals();
    assert_int_equal(after.contexts - before.contexts, LEAKED_PER_FAILURE);
    assert_int_equal(after.disposed_in_progress - before.disposed_in_progress,
                     LEAKED_PER_FAILURE);
    assert_int_equal(after.sockets - before.sockets, LEAKED_PER_FAILURE); /* kept by it */
}

/* ---- the send path: real ------------------------------------------------------------- */

static void a_send_on_a_reset_connection_fails_at_once_and_no_completion_comes(void **state)
{
    (void)state;
    registry_totals before = totals();
    async_socket *s = connection_reset_by_peer(); /* the reset has arrived */

    tk_assert_error(async_socket_send(s, 0, 1), WSAECONNRESET);
    tk_assert_no_completion(test_port, QUIET_MS);
    assert_dispose_leaves_the_expected_leak(s, before);
}

/* ---- the receive path ---------------------------------------------------------------- */

/* The incident's failure: a receive started after the peer's reset has arrived fails at
 * once with WSAECONNRESET, and no packet comes (Windows; Wine's own dlls/ws2_32/tests/sock.c
 * asserts the same in test_completion_port, "hard shutdown"). Wine 8 reads 0 bytes instead;
 * the import layer's reset semantics (tutorial/faults.h, on in these tests as in the
 * servers) make it answer as Windows does, so this runs the same under Wine and on
 * Windows. */
static void a_receive_after_a_reset_fails_at_once_with_wsaeconnreset(void **state)
{
    (void)state;
    registry_totals before = totals();
    async_socket *s = connection_reset_by_peer(); /* the reset has arrived */

    tk_assert_error(async_socket_receive(s, 0, 16), WSAECONNRESET);
    tk_assert_no_completion(test_port, QUIET_MS);
    assert_dispose_leaves_the_expected_leak(s, before);
}

/* The same with the reset semantics off (the servers' --wine-resets): Wine 8 shows its
 * own answer, an orderly end through a normal completion with 0 bytes. On Windows the flag
 * changes nothing, and the receive still fails at once. */
static void with_wine_resets_a_receive_after_a_reset_reads_an_end_under_wine(void **state)
{
    (void)state;
    registry_totals before = totals();
    async_socket *s = connection_reset_by_peer();
    faults_set_windows_resets(false);

    DWORD error = async_socket_receive(s, 0, 16);
    faults_set_windows_resets(true);
    if (tk_under_wine()) {
        assert_int_equal(error, 0);
        DWORD bytes = 99, completion_error = 99;
        assert_ptr_equal(next_completion(&bytes, &completion_error), &s->in->overlapped);
        assert_int_equal(completion_error, 0);
        assert_int_equal(bytes, 0);
        assert_false(context_complete(s->in, completion_error));
        async_socket_dispose(s);
        assert_int_equal(totals().contexts, before.contexts);
        print_message("under Wine: the receive completed with 0 bytes (an orderly end)\n");
    } else {
        tk_assert_error(error, WSAECONNRESET);
        tk_assert_no_completion(test_port, QUIET_MS);
        assert_dispose_leaves_the_expected_leak(s, before);
    }
}

/* The reset semantics look at a socket's FIRST receive only: where a probe's reset lands.
 * A later receive started after a reset is left to the system: on Windows it fails at once
 * with WSAECONNRESET, as the first one does; Wine 8, once its server has seen the reset
 * (tk_wait_readable's select here), reads 0 bytes, an orderly end. */
static void the_reset_semantics_leave_a_later_receive_to_wine(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket_with_data(&peer, "x");
    assert_int_equal(async_socket_receive(s, 0, 16), 0); /* the first: done at once */
    DWORD bytes = 0, error = 99;
    assert_ptr_equal(next_completion(&bytes, &error), &s->in->overlapped);
    assert_int_equal(bytes, 1);
    assert_false(context_complete(s->in, error));
    net_hard_reset(peer);
    tk_wait_readable(s->handle, TK_PROMPT_MS); /* the reset has arrived */

    error = async_socket_receive(s, 0, 16); /* the second */
    if (tk_under_wine()) {
        assert_int_equal(error, 0);
        assert_ptr_equal(next_completion(&bytes, &error), &s->in->overlapped);
        assert_int_equal(error, 0);
        assert_int_equal(bytes, 0); /* Wine's orderly end, not Windows' failure */
        assert_false(context_complete(s->in, error));
        async_socket_dispose(s);
        assert_int_equal(totals().contexts, before.contexts);
    } else {
        tk_assert_error(error, WSAECONNRESET);
        tk_assert_no_completion(test_port, QUIET_MS);
        assert_dispose_leaves_the_expected_leak(s, before);
    }
}

/* A real immediate failure of WSARecv that Wine and Windows agree on. */
static void a_receive_after_shutdown_fails_at_once_with_wsaeshutdown(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);

    tk_assert_error(async_socket_receive(s, 0, 16), WSAESHUTDOWN);
    tk_assert_no_completion(test_port, QUIET_MS);
    /* Nothing reached the kernel, so CancelIoEx has nothing to cancel and no aborted
     * packet comes. Windows says so with FALSE and ERROR_NOT_FOUND (Microsoft's CancelIoEx
     * page, for a call that finds no request to cancel); Wine 8 returns TRUE. */
    BOOL cancelled = CancelIoEx((HANDLE)s->handle, NULL);
    DWORD cancel_error = GetLastError();
    if (!tk_under_wine()) {
        assert_false(cancelled);
        tk_assert_error(cancel_error, ERROR_NOT_FOUND);
    }
    tk_assert_no_completion(test_port, QUIET_MS);
    assert_dispose_leaves_the_expected_leak(s, before);
    closesocket(peer);
}

/* The other side of the race: a receive already pending when the reset arrives is
 * completed by the kernel with ERROR_NETNAME_DELETED (64), and its context is freed the
 * normal way. Windows and Wine 8 agree here (Wine's sock.c, test_completion_port, asserts
 * 64 for this case); WSAGetOverlappedResult would translate it to WSAECONNRESET. */
static void a_receive_pending_when_the_reset_arrives_completes_with_an_error(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    assert_int_equal(async_socket_receive(s, 0, 16), 0);
    net_hard_reset(peer);

    DWORD bytes = 0, error = 0;
    assert_ptr_equal(next_completion(&bytes, &error), &s->in->overlapped);
    tk_assert_error(error, ERROR_NETNAME_DELETED);
    assert_int_equal(bytes, 0);
    assert_false(context_complete(s->in, error));
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts);
}

static bool report_mentions(const char *text)
{
    FILE *report = tmpfile();
    assert_non_null(report);
    registry_print_report(report);
    rewind(report);
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof line, report) != NULL)
        found = strstr(line, text) != NULL;
    fclose(report);
    return found;
}

static void a_receive_failing_with_wsaeconnreset_leaves_what_the_dump_showed(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    set_plan("receive#1=fail:WSAECONNRESET"); /* the incident's own error, from outside */

    tk_assert_error(async_socket_receive(s, 0, 16), WSAECONNRESET);
    set_plan(NULL);
    tk_assert_no_completion(test_port, QUIET_MS);
    assert_dispose_leaves_the_expected_leak(s, before);
    /* The dump's picture: InProgress = true, Disposed = true, operation Receive. */
    assert_int_equal(
        report_mentions("context op=receive in_progress=1 disposed=1 last_error=WSAECONNRESET"),
        LEAKED_PER_FAILURE == 1);
    closesocket(peer);
}

/* ---- the accept path: real ----------------------------------------------------------- */

static void an_accept_into_a_closed_socket_fails_at_once_with_wsaenotsock(void **state)
{
    (void)state;
    registry_totals before = totals();
    unsigned short listening_port;
    SOCKET listener = net_listen_loopback(0, &listening_port);
    assert_true(listener != INVALID_SOCKET);
    assert_non_null(CreateIoCompletionPort((HANDLE)listener, test_port, 0, 0));
    LPFN_ACCEPTEX accept_ex = NULL;
    assert_true(async_socket_load_accept_ex(listener, &accept_ex));
    async_socket *accepted = async_socket_open(4096, 0);
    assert_non_null(accepted);
    closesocket(accepted->handle);

    tk_assert_error(async_socket_accept(accepted, listener, accept_ex), WSAENOTSOCK);
    accepted->handle = INVALID_SOCKET; /* closed already; its number may be reused */
    tk_assert_no_completion(test_port, QUIET_MS);
    assert_dispose_leaves_the_expected_leak(accepted, before);
    closesocket(listener);
}

/* ---- the rules that hold in both steps ----------------------------------------------- */

/* The opposite bug: freeing a context while the kernel still owns it. */
static void dispose_does_not_free_a_receive_in_flight_its_aborted_completion_does(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    io_context *in = s->in;
    assert_int_equal(async_socket_receive(s, 0, 16), 0); /* pending: the peer sends nothing */

    async_socket_dispose(s);
    registry_totals disposed = totals();
    assert_int_equal(disposed.contexts - before.contexts, 1); /* the IN context waits */
    assert_int_equal(disposed.disposed_in_progress - before.disposed_in_progress, 1);

    assert_the_aborted_completion_frees(in, before);
    closesocket(peer);
}

static void a_receive_that_succeeds_at_once_still_queues_its_completion(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket_with_data(&peer, "abc"); /* there before the call */

    assert_int_equal(async_socket_receive(s, 0, 16), 0);
    assert_the_receive_completes_with(s, peer, "abc", before);
}

static DWORD WINAPI complete_in(void *argument)
{
    io_context *in = argument;
    context_complete(in, 0);
    return 0;
}

static void complete_and_dispose_racing_free_the_context_exactly_once(void **state)
{
    (void)state;
    registry_totals before = totals();
    /* "lost": WSARecv reports pending without making the call, so the test races complete
     * against dispose with no kernel in between. */
    set_plan("receive#*=lost");
    for (int i = 0; i < 300; i++) {
        async_socket *s = async_socket_wrap(INVALID_SOCKET, 64, 0);
        assert_non_null(s);
        assert_int_equal(async_socket_receive(s, 0, 16), 0);
        HANDLE completer = CreateThread(NULL, 0, complete_in, s->in, 0, NULL);
        assert_non_null(completer);
        async_socket_dispose(s); /* on this thread, while the other completes */
        tk_assert_wait(WaitForSingleObject(completer, TK_PROMPT_MS), WAIT_OBJECT_0);
        CloseHandle(completer);
        registry_totals after = totals();
        assert_int_equal(after.contexts, before.contexts); /* freed, and only once */
        assert_int_equal(after.sockets, before.sockets);
    }
    set_plan(NULL);
}

/* A child process the program starts must not inherit the server's sockets: a child that
 * kept one would hold the connection open after the server closed it. */
static void the_sockets_the_server_makes_are_not_inherited(void **state)
{
    (void)state;
    registry_totals before = totals();
    async_socket *s = async_socket_open(64, 0);
    assert_non_null(s);
    DWORD flags = HANDLE_FLAG_INHERIT;
    assert_true(GetHandleInformation((HANDLE)s->handle, &flags));
    assert_int_equal(flags & HANDLE_FLAG_INHERIT, 0);
    unsigned short port = 0;
    SOCKET listener = net_listen_loopback(0, &port);
    flags = HANDLE_FLAG_INHERIT;
    assert_true(GetHandleInformation((HANDLE)listener, &flags));
    assert_int_equal(flags & HANDLE_FLAG_INHERIT, 0);
    closesocket(listener);
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_send_on_a_reset_connection_fails_at_once_and_no_completion_comes),
        cmocka_unit_test(a_receive_after_a_reset_fails_at_once_with_wsaeconnreset),
        cmocka_unit_test(with_wine_resets_a_receive_after_a_reset_reads_an_end_under_wine),
        cmocka_unit_test(the_reset_semantics_leave_a_later_receive_to_wine),
        cmocka_unit_test(a_receive_after_shutdown_fails_at_once_with_wsaeshutdown),
        cmocka_unit_test(a_receive_pending_when_the_reset_arrives_completes_with_an_error),
        cmocka_unit_test(a_receive_failing_with_wsaeconnreset_leaves_what_the_dump_showed),
        cmocka_unit_test(an_accept_into_a_closed_socket_fails_at_once_with_wsaenotsock),
        cmocka_unit_test(dispose_does_not_free_a_receive_in_flight_its_aborted_completion_does),
        cmocka_unit_test(a_receive_that_succeeds_at_once_still_queues_its_completion),
        cmocka_unit_test(complete_and_dispose_racing_free_the_context_exactly_once),
        cmocka_unit_test(the_sockets_the_server_makes_are_not_inherited),
    };
    return cmocka_run_group_tests_name("paths", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
