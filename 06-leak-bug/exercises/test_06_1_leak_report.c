/* Checker of exercise 06.1 (predict): sends and receives fail at once on reset connections,
 * two pending receives are disposed by the idle timeout. What does step 06's leak report
 * list? The checker runs the scenario for real on step 06's socket objects (under the page
 * heap), counts what the registry still holds, and compares it with prediction_06_1.txt.
 * Right or wrong, it prints what it measured and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "tutorial/net.h"
#include "tutorial/checkkit.h"

enum { SENDS_FAILING = 4, RECEIVES_FAILING = 3, BOTH_FAILING = 2, RECEIVES_IDLE = 2,
       REPORT_SIZE = 4096 };

static void expect_failure_at_once(const char *what, DWORD error)
{
    if (error != WSAECONNRESET)
        fail_msg("expected the %s on a reset connection to fail at once with WSAECONNRESET "
                 "(10054), as the scenario says; it returned %lu", what, (unsigned long)error);
}

/* A, B and C: what fails at once on a connection whose reset has arrived. */
static void on_a_reset_connection(bool send, bool receive)
{
    async_socket *s = connection_reset_by_peer();
    if (send)
        expect_failure_at_once("send", async_socket_send(s, 0, 1));
    if (receive)
        expect_failure_at_once("receive", async_socket_receive(s, 0, 16));
    async_socket_dispose(s);
}

/* D. What the idle timeout does: dispose while the receive is pending, then the worker's
 * part: the aborted packet comes back and context_complete handles it. */
static void dispose_a_pending_receive_and_handle_its_packet(void)
{
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    io_context *in = s->in;
    assert_int_equal(async_socket_receive(s, 0, 16), 0);
    async_socket_dispose(s);
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    if (overlapped != &in->overlapped)
        fail_msg("expected the aborted receive's packet within %d ms; none came",
                 TK_PROMPT_MS);
    context_complete(in, ok ? 0 : GetLastError());
    closesocket(peer);
}

/* How many contexts the report's lines "N x context op=NAME ..." list for operation. */
static long contexts_in_report(const char *report, io_operation operation)
{
    char pattern[48];
    snprintf(pattern, sizeof pattern, " x context op=%s ", operation_name(operation));
    long count = 0;
    for (const char *line = report; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t length = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *found = strstr(line, pattern);
        if (found != NULL && (size_t)(found - line) < length)
            count += strtol(line, NULL, 10);
        line += length + (end != NULL);
    }
    return count;
}

/* The report, each of its lines as a "measured:" line. */
static void print_report(const char *report)
{
    print_message("measured: the leak report says\n");
    for (const char *line = report; *line != '\0';) {
        const char *end = strchr(line, '\n');
        int length = end != NULL ? (int)(end - line) : (int)strlen(line);
        print_message("measured:   %.*s\n", length, line);
        line += length + (end != NULL);
    }
}

static void the_prediction_matches_the_leak_report(void **state)
{
    (void)state;
    static const prediction_spec answers[] = {
        {"leaked_receive_contexts", NULL},
        {"leaked_send_contexts", NULL},
        {"leaked_sockets", NULL},
    };
    prediction p;
    ck_read_prediction("prediction_06_1.txt", "06-leak-bug/exercises/prediction_06_1.txt",
                       answers, 3, &p);
    long predicted_receives = (long)ck_predicted(&p, "leaked_receive_contexts", NULL);
    long predicted_sends = (long)ck_predicted(&p, "leaked_send_contexts", NULL);
    long predicted_sockets = (long)ck_predicted(&p, "leaked_sockets", NULL);

    registry_totals before = totals();
    for (int i = 0; i < SENDS_FAILING; i++)
        on_a_reset_connection(true, false);
    for (int i = 0; i < RECEIVES_FAILING; i++)
        on_a_reset_connection(false, true);
    for (int i = 0; i < BOTH_FAILING; i++)
        on_a_reset_connection(true, true);
    for (int i = 0; i < RECEIVES_IDLE; i++)
        dispose_a_pending_receive_and_handle_its_packet();
    registry_totals after = totals();
    long contexts = after.contexts - before.contexts;
    long sockets = after.sockets - before.sockets;
    static char report[REPORT_SIZE];
    read_report(report, sizeof report);
    long receives = contexts_in_report(report, OP_RECEIVE);
    long sends = contexts_in_report(report, OP_SEND);
    if (receives + sends != contexts)
        fail_msg("the checker's count of the report (%ld receive and %ld send contexts) does "
                 "not add up to the registry's %ld: it cannot judge your prediction",
                 receives, sends, contexts);

    print_report(report);
    print_message("measured: %ld receive context(s), %ld send context(s), %ld socket "
                  "object(s); you predicted %ld, %ld and %ld\n",
                  receives, sends, sockets, predicted_receives, predicted_sends,
                  predicted_sockets);
    print_message("why: an operation that fails at once never started, so no packet will ever "
                  "clear its context's \"in progress\" bit; dispose leaves such a context to a "
                  "completion that never comes. A: %d send contexts. B: %d receive contexts. "
                  "C: both contexts of each of the %d, %d in all. D: nothing, the aborted "
                  "packets freed theirs. The IN context of A and the OUT context of B were "
                  "idle, and dispose freed them at once.\n",
                  SENDS_FAILING, RECEIVES_FAILING, BOTH_FAILING, 2 * BOTH_FAILING);
    print_message("why: a socket object lives while one of its contexts does (each holds a "
                  "reference), so each of the %d connections of A, B and C leaves exactly one "
                  "socket object, however many of its contexts leaked.\n",
                  SENDS_FAILING + RECEIVES_FAILING + BOTH_FAILING);

    if (receives != predicted_receives || sends != predicted_sends ||
        sockets != predicted_sockets)
        fail_msg("your prediction does not match what the registry still holds (see the "
                 "measured: and why: lines above). Your first prediction stays recorded.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_prediction_matches_the_leak_report),
    };
    return CK_RUN_CHECKER("exercise 06.1", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
