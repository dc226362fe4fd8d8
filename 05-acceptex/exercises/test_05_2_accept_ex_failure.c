/* Checker of exercise 05.2 (find the bug): when AcceptEx fails at once, no packet will
 * ever come for its context, so the acceptor must see the failure right there: count and
 * report it, and free the context and the socket. When it succeeds at once or is pending,
 * its packet will come, and the context must wait for it.
 *
 * Wine fails AcceptEx at once for few bad arguments (a closed socket handle, WSAENOTSOCK),
 * and Windows' other immediate failures (a client that reset before it was taken,
 * WSAECONNRESET; no buffer space, WSAENOBUFS; ...) cannot be provoked on demand. So the
 * checker hands the acceptor an AcceptEx that asks a fault plan (tutorial/fault_plan.h) what
 * each call should do: it watches WSAIoctl (tutorial/import_hook.h) and, when the acceptor
 * asks for AcceptEx's address, gives it the planned one. Each run plans failures with
 * different errors at different positions, and calls that succeed at once, drawn from the
 * run's seed; one test also makes a real immediate failure. */
#include <stdio.h>
#include <string.h>

#include "buggy_acceptor.h"
#include "support.h"
#include "tutorial/checkkit.h"
#include "tutorial/errors.h"
#include "tutorial/fault_plan.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"

#include <mswsock.h>

enum { NO_PACKET_MS = 300, MAX_POSTS = 12 };

/* ---- the planned AcceptEx ---------------------------------------------------------- */

static tk_accept_ex_function real_accept_ex;

/* What the planned AcceptEx did on each call, in order. */
typedef enum { CALL_PENDING, CALL_DONE_AT_ONCE, CALL_FAILED_AT_ONCE } call_result;
static call_result calls[MAX_POSTS];
static DWORD call_errors[MAX_POSTS];
static int call_count;
/* What the thread's last error holds when a call succeeds: Windows does not say (GetLastError's
 * page: some functions set it on success, others leave the most recent code set), so here it
 * is what an earlier call left, the error of the last failure. */
static DWORD stale_error = WSAECONNRESET;

static BOOL WINAPI planned_accept_ex(SOCKET listener, SOCKET accepted, PVOID buffer,
                                     DWORD receive_length, DWORD local_length,
                                     DWORD remote_length, LPDWORD bytes,
                                     LPOVERLAPPED overlapped)
{
    fault_outcome planned = fault_plan_take("accept");
    int i = call_count < MAX_POSTS ? call_count++ : MAX_POSTS - 1;
    if (planned.kind == FAULT_FAIL) { /* not made: it fails at once, as Windows can */
        calls[i] = CALL_FAILED_AT_ONCE;
        call_errors[i] = planned.value;
        stale_error = planned.value;
        WSASetLastError((int)planned.value);
        return FALSE;
    }
    BOOL done = real_accept_ex(listener, accepted, buffer, receive_length, local_length,
                               remote_length, bytes, overlapped);
    int error = WSAGetLastError();
    if (!done && error != WSA_IO_PENDING) { /* a real immediate failure */
        calls[i] = CALL_FAILED_AT_ONCE;
        call_errors[i] = (DWORD)error;
        return FALSE;
    }
    if (planned.kind == FAULT_NOW) {
        /* Started: report TRUE, as Windows may when a client was already waiting. Its
         * packet comes all the same. The last error then holds what an earlier call left
         * there: an error, though this call succeeded. */
        calls[i] = CALL_DONE_AT_ONCE;
        WSASetLastError((int)stale_error);
        return TRUE;
    }
    calls[i] = done ? CALL_DONE_AT_ONCE : CALL_PENDING;
    return done;
}

static int hook_up(void **state)
{
    if (!tk_hook_accept_ex(planned_accept_ex, &real_accept_ex)) {
        print_error("could not watch WSAIoctl in the checker's imports (the acceptor must "
                    "ask WSAIoctl for AcceptEx, as the chapter does)\n");
        return -1;
    }
    ck_seed();
    return tk_winsock_up(state);
}

/* ---- the fixture ------------------------------------------------------------------- */

typedef struct fixture {
    SOCKET listener;
    unsigned short port_number;
    HANDLE port;
    acceptor *acceptor;
} fixture;

static fixture set_up(const char *plan)
{
    char why[160];
    if (!fault_plan_set(plan, why, sizeof why))
        fail_msg("the checker's own plan is wrong: %s", why);
    call_count = 0;
    fixture f;
    f.listener = listen_on_new_port(&f.port_number, &f.port, 0);
    f.acceptor = acceptor_new(f.listener);
    assert_non_null(f.acceptor);
    return f;
}

static void tear_down(fixture *f)
{
    fault_plan_set(NULL, NULL, 0);
    acceptor_free(f->acceptor);
    CloseHandle(f->port);
}

static acceptor_counters counters_of(const fixture *f)
{
    acceptor_counters c;
    acceptor_read_counters(f->acceptor, &c);
    return c;
}

/* Hands the next packet to the acceptor; false when none came within timeout_ms. */
static bool deliver_one_packet(fixture *f, DWORD timeout_ms)
{
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(f->port, &bytes, &key, &overlapped, timeout_ms);
    if (overlapped == NULL)
        return false;
    acceptor_on_packet(f->acceptor, overlapped, ok);
    return true;
}

static bool is_open(SOCKET s)
{
    int type = 0, size = sizeof type;
    return getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &size) == 0;
}

/* Posts one AcceptEx and checks what acceptor_post says against what AcceptEx did. */
static bool post_and_check(fixture *f, SOCKET s, int position)
{
    int before = call_count;
    bool posted = acceptor_post(f->acceptor, s);
    if (call_count != before + 1)
        fail_msg("expected acceptor_post to call AcceptEx once (the one WSAIoctl gave it); "
                 "it called it %d times", call_count - before);
    call_result did = calls[before];
    char name[32];
    if (did == CALL_FAILED_AT_ONCE && posted)
        fail_msg("AcceptEx call %d returned FALSE with %s (%lu): it failed at once, and no "
                 "packet will ever come for it. Yet acceptor_post returned true, so its "
                 "context waits forever. Rule: FALSE with any error but ERROR_IO_PENDING is "
                 "an immediate failure, whatever the error.",
                 position, error_name(call_errors[before], name, sizeof name),
                 (unsigned long)call_errors[before]);
    if (did != CALL_FAILED_AT_ONCE && !posted)
        fail_msg("AcceptEx call %d %s: its packet WILL come, and will point into a context "
                 "that acceptor_post has just freed. Rule: TRUE, or FALSE with "
                 "ERROR_IO_PENDING, means started; only FALSE with another error is a "
                 "failure.",
                 position,
                 did == CALL_DONE_AT_ONCE ? "returned TRUE (done at once)"
                                          : "returned FALSE with ERROR_IO_PENDING");
    if (did == CALL_FAILED_AT_ONCE && is_open(s))
        fail_msg("AcceptEx call %d failed at once, and the socket made for it is still open "
                 "after acceptor_post returned: rule: an immediate failure frees the context "
                 "and its socket right there, since no packet will come to do it.",
                 position);
    return posted;
}

/* ---- the tests --------------------------------------------------------------------- */

/* Immediate failures Microsoft's AcceptEx and Winsock error pages name. */
static const struct {
    DWORD code;
} immediate_errors[] = {
    {WSAECONNRESET}, /* a client connected, then reset before it was taken */
    {WSAENOBUFS},    /* no buffer space                                   */
    {WSAEINVAL},     /* the listener is not listening, or the socket bound */
    {WSAENOTSOCK},   /* not a socket                                      */
    {WSAEFAULT},     /* a bad buffer                                      */
    {WSAENETDOWN},   /* the network subsystem failed                      */
};

static void planned_failures_are_seen_at_once_and_the_rest_complete(void **state)
{
    (void)state;
    /* Drawn until the plan has at least two failures with different errors, one of them
     * not WSAENOTSOCK, and one call done at once. */
    enum { ERRORS = sizeof immediate_errors / sizeof immediate_errors[0] };
    int posts, failures, at_once;
    bool mixed;
    char plan[512], picture[MAX_POSTS + 1];
    do {
        posts = ck_random(6, MAX_POSTS);
        failures = at_once = 0;
        plan[0] = '\0';
        int first_error = -1;
        mixed = false;
        for (int i = 1; i <= posts; i++) {
            int roll = ck_random(0, 9);
            char rule[64];
            picture[i - 1] = '.';
            if (roll < 4) {
                int e = ck_random(0, ERRORS - 1);
                snprintf(rule, sizeof rule, "%saccept#%d=fail:%lu", plan[0] ? "," : "", i,
                         (unsigned long)immediate_errors[e].code);
                mixed = mixed || (first_error >= 0 && e != first_error);
                first_error = first_error < 0 ? e : first_error;
                failures++;
                picture[i - 1] = 'F';
            } else if (roll < 6) {
                snprintf(rule, sizeof rule, "%saccept#%d=now", plan[0] ? "," : "", i);
                at_once++;
                picture[i - 1] = 'T';
            } else {
                continue;
            }
            strncat(plan, rule, sizeof plan - strlen(plan) - 1);
        }
        picture[posts] = '\0';
    } while (failures < 2 || !mixed || at_once == 0);
    print_message("the plan: %d AcceptEx calls (F failed at once, T done at once, . pending): "
                  "%s\n", posts, picture);
    fixture f = set_up(plan);
    int started = 0;
    for (int i = 1; i <= posts; i++)
        started += post_and_check(&f, new_overlapped_socket(), i);
    acceptor_counters c = counters_of(&f);
    if (c.failed_at_once != failures || c.pending != started || c.live_contexts != started)
        fail_msg("expected %d failed at once, %d pending and %d contexts alive after the "
                 "plan %s; the acceptor counted %ld failed at once, %ld pending, %ld contexts "
                 "alive",
                 failures, started, started, picture, c.failed_at_once, c.pending,
                 c.live_contexts);
    if (deliver_one_packet(&f, NO_PACKET_MS))
        fail_msg("expected no packet before any client connects");

    SOCKET client = net_connect_loopback(f.port_number);
    assert_true(client != INVALID_SOCKET);
    if (!deliver_one_packet(&f, TK_PROMPT_MS))
        fail_msg("expected an accept packet within %d ms of a client connecting",
                 TK_PROMPT_MS);
    closesocket(f.listener); /* the other accepts come back aborted */
    for (int i = 1; i < started; i++)
        if (!deliver_one_packet(&f, TK_PROMPT_MS))
            fail_msg("expected the aborted packet of each of the %d accepts still pending",
                     started - 1);
    if (deliver_one_packet(&f, NO_PACKET_MS))
        fail_msg("expected no packet for the AcceptEx calls that failed at once");
    c = counters_of(&f);
    if (c.pending != 0 || c.accepted != 1 || c.live_contexts != 0)
        fail_msg("expected 0 pending, 1 accepted and 0 contexts alive at the end; the "
                 "acceptor counted %ld pending, %ld accepted, %ld contexts alive",
                 c.pending, c.accepted, c.live_contexts);
    closesocket(client);
    tear_down(&f);
}

/* A real immediate failure, made by Windows (Wine) itself: a socket handle already closed. */
static void an_accept_ex_given_a_closed_socket_fails_at_once_and_is_freed(void **state)
{
    (void)state;
    fixture f = set_up(NULL);
    int failures = ck_random(1, 3);
    for (int i = 1; i <= failures; i++) {
        SOCKET gone = new_overlapped_socket();
        closesocket(gone); /* not a socket any more: AcceptEx fails at once (WSAENOTSOCK) */
        post_and_check(&f, gone, i);
    }
    if (deliver_one_packet(&f, NO_PACKET_MS))
        fail_msg("expected no packet for an AcceptEx that failed at once");
    acceptor_counters c = counters_of(&f);
    if (c.pending != 0 || c.failed_at_once != failures || c.live_contexts != 0)
        fail_msg("expected 0 pending, %d failed at once and 0 contexts alive; the acceptor "
                 "counted %ld pending, %ld failed at once, %ld contexts alive",
                 failures, c.pending, c.failed_at_once, c.live_contexts);
    closesocket(f.listener);
    tear_down(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(planned_failures_are_seen_at_once_and_the_rest_complete),
        cmocka_unit_test(an_accept_ex_given_a_closed_socket_fails_at_once_and_is_freed),
    };
    return CK_RUN_CHECKER("exercise 05.2", tests, hook_up, tk_winsock_down);
}
