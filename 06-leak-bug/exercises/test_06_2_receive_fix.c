/* Checker of exercise 06.2 (find the bug): receive_path_start (receive_path.c) must leave
 * nothing behind when WSARecv fails at once (whatever the error), must still leave a
 * receive that did start to its completion, and must have the flag up before WSARecv, so
 * that a completion handled on another thread before WSARecv even returns finds it. It runs
 * on step 06's real socket objects and their real dispose, under the page heap. */
#include <stdio.h>
#include <string.h>

#include "receive_path.h"
#include "support.h"
#include "tutorial/checkkit.h"
#include "tutorial/fault_plan.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"

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
    async_socket *s = connected_socket(&peer, 4096);
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);

    DWORD error = receive_path_start(s, 0, 16);
    if (error != WSAESHUTDOWN)
        fail_msg("expected receive_path_start to return WSAESHUTDOWN (10058) after "
                 "shutdown(SD_RECEIVE): the caller needs the error to dispose the socket; "
                 "it returned %lu", (unsigned long)error);
    assert_dispose_leaves_nothing(s, before, "WSAESHUTDOWN");
    closesocket(peer);
}

static void a_receive_failing_with_wsaeconnreset_leaves_nothing_after_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    /* The incident's error, from outside (the import layer): WSARecv fails the way it does
     * on Windows when the reset has already arrived. */
    set_plan("receive#1=fail:WSAECONNRESET");
    DWORD error = receive_path_start(s, 0, 16);
    set_plan(NULL);
    if (error != WSAECONNRESET)
        fail_msg("expected receive_path_start to return WSAECONNRESET (10054) when WSARecv "
                 "fails with it; it returned %lu", (unsigned long)error);
    assert_dispose_leaves_nothing(s, before, "WSAECONNRESET");
    closesocket(peer);
}

/* Errors WSARecv can fail with at once (Microsoft's WSARecv page). The checker picks some at
 * random and makes WSARecv fail with them from outside (the fault plan's "receive" rule):
 * the rule is about every error but WSA_IO_PENDING, not about one or two of them. */
static const DWORD immediate_errors[] = {
    WSAECONNRESET, WSAECONNABORTED, WSAENETRESET, WSAENETDOWN, WSAENOTCONN,
    WSAESHUTDOWN,  WSAEINTR,        WSAETIMEDOUT, WSAEINVAL,   WSAEFAULT,
};
enum { ERRORS = sizeof immediate_errors / sizeof immediate_errors[0], ERRORS_TRIED = 4 };

static volatile LONG fail_with; /* not 0: the next WSARecv fails at once with it */

/* An error no list names: any value but success, ERROR_IO_PENDING and the two warnings a
 * datagram socket gives (WSAEMSGSIZE, WSAEDISCON), which still queue a packet. A lesson
 * that holds for "any other error" holds for this one too. */
static DWORD an_error_no_list_has(void)
{
    for (;;) {
        DWORD error = (DWORD)ck_random(1, 15999);
        bool listed = error == ERROR_IO_PENDING || error == WSAEMSGSIZE || error == WSAEDISCON;
        for (int i = 0; i < ERRORS; i++)
            listed = listed || error == immediate_errors[i];
        if (!listed)
            return error;
    }
}

/* One receive that fails at once with planned: through the fault plan (an error Microsoft's
 * WSARecv page lists), or through this checker's own stand-in (any other value). */
static void a_receive_failing_with(DWORD planned, bool listed)
{
    char plan[64], name[32];
    snprintf(plan, sizeof plan, "receive#1=fail:%lu", (unsigned long)planned);
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    if (listed)
        set_plan(plan);
    else
        InterlockedExchange(&fail_with, (LONG)planned);
    DWORD error = receive_path_start(s, 0, 16);
    bool called = listed ? fault_plan_fired("receive") == 1
                         : InterlockedExchange(&fail_with, 0) == 0;
    set_plan(NULL);
    if (!called)
        fail_msg("expected receive_path_start to start its receive with WSARecv, once; it "
                 "did not call it");
    if (error != planned)
        fail_msg("expected receive_path_start to return the error WSARecv failed with "
                 "at once (%lu), for the caller to dispose the socket; it returned %lu",
                 (unsigned long)planned, (unsigned long)error);
    snprintf(name, sizeof name, "error %lu", (unsigned long)planned);
    assert_dispose_leaves_nothing(s, before, name);
    closesocket(peer);
}

static void a_receive_failing_with_any_other_error_leaves_nothing_after_dispose(void **state)
{
    (void)state;
    DWORD errors[ERRORS];
    memcpy(errors, immediate_errors, sizeof errors);
    for (int i = 0; i < ERRORS_TRIED; i++) { /* distinct errors, in a random order */
        int pick = ck_random(i, ERRORS - 1);
        DWORD planned = errors[pick];
        errors[pick] = errors[i];
        errors[i] = planned;
        a_receive_failing_with(planned, true);
    }
    for (int i = 0; i < 2; i++) /* and values no list has: "any other error" means any */
        a_receive_failing_with(an_error_no_list_has(), false);
}

/* ---- The race the flag's place is about ------------------------------------------------
 * A stand-in for WSARecv, put in this program's import table (over the import layer's),
 * that makes the real call and then, before returning, lets another thread dequeue the
 * receive's packet and handle it as a worker does (context_complete). On a busy server
 * this happens on its own, now and then; here it happens every time. */
typedef struct early_worker {
    HANDLE go, done;
    io_context *context;
    OVERLAPPED *dequeued;
    DWORD bytes;
    LONG state_seen_by_worker;
} early_worker;

typedef int(WSAAPI *receive_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
                                      LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);

static early_worker worker;
static SOCKET worker_peer = INVALID_SOCKET;
static const char *data_sent_while_pending;
static receive_function real_receive;  /* what the import table held before */
static volatile LONG racing;           /* 1: the next WSARecv races a worker */

static DWORD WINAPI early_worker_main(void *argument)
{
    (void)argument;
    if (WaitForSingleObject(worker.go, TK_PROMPT_MS) != WAIT_OBJECT_0)
        return 1;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    DWORD bytes = 0;
    BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    DWORD error = ok ? 0 : GetLastError();
    worker.dequeued = overlapped;
    worker.bytes = bytes;
    if (overlapped == &worker.context->overlapped) {
        worker.state_seen_by_worker = context_state(worker.context);
        context_complete(worker.context, error); /* what a worker does with every packet */
    }
    SetEvent(worker.done);
    return 0;
}

static int WSAAPI receive_then_a_worker_handles_its_packet(SOCKET s, LPWSABUF buffers,
                                                           DWORD count, LPDWORD received,
                                                           LPDWORD flags,
                                                           LPWSAOVERLAPPED overlapped,
                                                           LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    LONG planned_error = InterlockedExchange(&fail_with, 0);
    if (planned_error != 0) { /* not made: no packet will come */
        WSASetLastError((int)planned_error);
        return SOCKET_ERROR;
    }
    int answer = real_receive(s, buffers, count, received, flags, overlapped, routine);
    int error = WSAGetLastError();
    if (InterlockedExchange(&racing, 0) == 1 && (answer == 0 || error == WSA_IO_PENDING)) {
        if (data_sent_while_pending != NULL)
            assert_true(net_send_all(worker_peer, data_sent_while_pending,
                                     (int)strlen(data_sent_while_pending)));
        SetEvent(worker.go);
        WaitForSingleObject(worker.done, TK_PROMPT_MS);
    }
    WSASetLastError(error);
    return answer;
}

/* One receive whose packet is handled on another thread before WSARecv returns; data is
 * there before the call (pending_data NULL) or sent while the receive waits. */
static void the_completion_comes_before_wsarecv_returns(const char *ready_data,
                                                        const char *pending_data)
{
    registry_totals before = totals();
    async_socket *s = ready_data != NULL ? connected_socket_with_data(&worker_peer, ready_data)
                                         : connected_socket(&worker_peer, 4096);
    memset(&worker, 0, sizeof worker);
    worker.go = CreateEventW(NULL, TRUE, FALSE, NULL);
    worker.done = CreateEventW(NULL, TRUE, FALSE, NULL);
    worker.context = s->in;
    data_sent_while_pending = pending_data;
    HANDLE thread = CreateThread(NULL, 0, early_worker_main, NULL, 0, NULL);
    assert_non_null(thread);

    InterlockedExchange(&racing, 1);
    DWORD error = receive_path_start(s, 0, 16);
    InterlockedExchange(&racing, 0);
    SetEvent(worker.go); /* in case the stand-in was never called */
    assert_int_equal(WaitForSingleObject(thread, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(thread);
    CloseHandle(worker.go);
    CloseHandle(worker.done);

    const char *data = ready_data != NULL ? ready_data : pending_data;
    if (error != 0)
        fail_msg("expected the receive to start (0); receive_path_start returned %lu",
                 (unsigned long)error);
    if (worker.dequeued != &s->in->overlapped)
        fail_msg("expected the receive's packet to be on the port (the checker's worker "
                 "waited %d ms for it); it was not", TK_PROMPT_MS);
    assert_int_equal(worker.bytes, strlen(data));
    if (!(worker.state_seen_by_worker & CONTEXT_IN_PROGRESS))
        fail_msg("a worker dequeued the receive's packet before WSARecv returned (it may, on "
                 "any thread) and found its context NOT \"in progress\": the flag must be "
                 "up before the call, not after it");
    if (context_state(s->in) & CONTEXT_IN_PROGRESS)
        fail_msg("a worker handled the receive's packet before WSARecv returned, and after "
                 "that the context read \"in progress\" again: no packet will ever clear it, "
                 "so dispose leaves it behind (the leak, from the other side)");
    async_socket_dispose(s);
    registry_totals after = totals();
    if (after.contexts != before.contexts || after.sockets != before.sockets)
        fail_msg("expected nothing left after the packet was handled and the socket "
                 "disposed; %ld context(s) and %ld socket object(s) were left",
                 after.contexts - before.contexts, after.sockets - before.sockets);
    closesocket(worker_peer);
}

static void a_completion_handled_before_wsarecv_returns_finds_the_flag_up(void **state)
{
    (void)state;
    the_completion_comes_before_wsarecv_returns("ready", NULL);   /* succeeds at once */
    the_completion_comes_before_wsarecv_returns(NULL, "arrived"); /* pending, then data */
}

/* The opposite mistake: a receive that did start belongs to the kernel until its packet
 * comes, so dispose must not free it. */
static void a_pending_receive_is_freed_by_its_aborted_completion_not_by_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
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

    assert_the_aborted_completion_frees(in, before);
    closesocket(peer);
}

static void a_receive_that_succeeds_at_once_stays_in_progress_until_its_packet(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket_with_data(&peer, "abc"); /* there before the call */

    assert_int_equal(receive_path_start(s, 0, 16), 0);
    if (!(context_state(s->in) & CONTEXT_IN_PROGRESS))
        fail_msg("expected a receive that succeeded at once to stay \"in progress\" until "
                 "its packet is handled (the packet is queued anyway); it was not");
    assert_the_receive_completes_with(s, peer, "abc", before);
}

int main(void)
{
    ck_seed();
    real_receive = (receive_function)tk_hook_import(
        "WSARecv", (tk_function)receive_then_a_worker_handles_its_packet);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_receive_failing_with_wsaeshutdown_leaves_nothing_after_dispose),
        cmocka_unit_test(a_receive_failing_with_wsaeconnreset_leaves_nothing_after_dispose),
        cmocka_unit_test(a_receive_failing_with_any_other_error_leaves_nothing_after_dispose),
        cmocka_unit_test(a_completion_handled_before_wsarecv_returns_finds_the_flag_up),
        cmocka_unit_test(a_pending_receive_is_freed_by_its_aborted_completion_not_by_dispose),
        cmocka_unit_test(a_receive_that_succeeds_at_once_stays_in_progress_until_its_packet),
    };
    return CK_RUN_CHECKER("exercise 06.2", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
