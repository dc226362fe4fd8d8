/* Checker of exercise 07.1 (predict): what the published fix's slip does, measured on the
 * step07_slip variant of the library (built with PUBLISHED_FIX_SLIP) and compared with
 * prediction_07_1.txt (under the page heap). Right or wrong, it prints what it
 * measured and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "tutorial/checkkit.h"


enum { RECEIVES_FAILING = 4, SENDS_FAILING = 2, BOTH_FAILING = 2, REPORT_SIZE = 4096 };

static void expect_failure_at_once(const char *what, DWORD error, DWORD expected)
{
    if (error != expected)
        fail_msg("expected the %s to fail at once with %lu, as the scenario says; it "
                 "returned %lu", what, (unsigned long)expected, (unsigned long)error);
}

static void fail_a_receive_at_once(async_socket *s)
{
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
    expect_failure_at_once("receive after shutdown(SD_RECEIVE)", async_socket_receive(s, 0, 16),
                           WSAESHUTDOWN);
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

/* The learner's answer named name, from prediction_07_1.txt. */
static long predicted(const char *name)
{
    static const prediction_spec answers[] = {
        {"leaked_receive_contexts", NULL},
        {"leaked_send_contexts", NULL},
        {"leaked_sockets", NULL},
        {"send_context_freed_at_once", NULL},
    };
    prediction p;
    ck_read_prediction("prediction_07_1.txt", "07-leak-fix/exercises/prediction_07_1.txt",
                       answers, 4, &p);
    return (long)ck_predicted(&p, name, NULL);
}

static void part_1_the_prediction_matches_the_leak_report(void **state)
{
    (void)state;
    long predicted_receives = predicted("leaked_receive_contexts");
    long predicted_sends = predicted("leaked_send_contexts");
    long predicted_sockets = predicted("leaked_sockets");

    registry_totals before = totals();
    for (int i = 0; i < RECEIVES_FAILING; i++) {
        SOCKET peer;
        async_socket *s = connected_socket(&peer, 4096);
        fail_a_receive_at_once(s);
        async_socket_dispose(s);
        closesocket(peer);
    }
    for (int i = 0; i < SENDS_FAILING + BOTH_FAILING; i++) {
        async_socket *s = connection_reset_by_peer();
        if (i >= SENDS_FAILING)
            expect_failure_at_once("receive on a reset connection",
                                   async_socket_receive(s, 0, 16), WSAECONNRESET);
        expect_failure_at_once("send on a reset connection", async_socket_send(s, 0, 1),
                               WSAECONNRESET);
        async_socket_dispose(s);
    }
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
                  "object(s); you predicted %ld, %ld and %ld\n", receives, sends, sockets,
                  predicted_receives, predicted_sends, predicted_sockets);
    print_message("why: the slip clears the SEND context's \"in progress\" bit when a receive "
                  "fails at once, so the receive's own context keeps its bit, and dispose "
                  "leaves it to a completion that never comes: one receive context for each "
                  "of the %d connections of A and C. The send path was fixed right: the "
                  "failed sends of B and C cleared their own bits, so no send context leaks. "
                  "Each leaked context keeps its socket object alive: %d of them.\n",
                  RECEIVES_FAILING + BOTH_FAILING, RECEIVES_FAILING + BOTH_FAILING);
    if (receives != predicted_receives || sends != predicted_sends ||
        sockets != predicted_sockets)
        fail_msg("your prediction for part 1 does not match what the registry still holds "
                 "(see the measured: and why: lines above). Your first prediction stays "
                 "recorded.");
}

static void part_2_the_prediction_matches_what_dispose_would_do_to_the_send(void **state)
{
    (void)state;
    long freed_at_once_predicted = predicted("send_context_freed_at_once");
    if (freed_at_once_predicted < 0 || freed_at_once_predicted > 1)
        fail_msg("expected send_context_freed_at_once in "
                 "07-leak-fix/exercises/prediction_07_1.txt to be 1 (freed at once) or 0 (left "
                 "to the send's completion); it is %ld", freed_at_once_predicted);

    SOCKET peer;
    async_socket *s = connected_socket(&peer, 65536);
    fill_until_sends_wait(s->handle);
    assert_int_equal(async_socket_send(s, 0, 65536), 0);
    if (HasOverlappedIoCompleted(&s->out->overlapped))
        fail_msg("expected the send to wait (the client reads nothing); it finished at once, "
                 "so the scenario could not be measured");
    fail_a_receive_at_once(s);
    /* Dispose frees a context at once exactly when it is not "in progress". Measured
     * without disposing: the kernel still owns the send's buffer. */
    long freed_at_once = (context_state(s->out) & CONTEXT_IN_PROGRESS) ? 0 : 1;
    bool still_pending = !HasOverlappedIoCompleted(&s->out->overlapped);
    print_message("measured: the send context is %s\"in progress\" while its WSASend is %s\n",
                  freed_at_once ? "NOT " : "", still_pending ? "pending" : "done");

    /* Let the send finish and hand its packet back before dispose, so this checker frees
     * nothing the kernel holds. */
    let_the_send_complete(s, peer);
    context_complete(s->out, 0);
    async_socket_dispose(s);
    closesocket(peer);

    print_message("why: dispose frees at once every context that is not \"in progress\". The "
                  "slip cleared the send context's bit while its WSASend was still pending, so "
                  "dispose would free the OVERLAPPED and buffer the kernel still writes to: "
                  "the fix's slip is a use-after-free as well as a leak.\n");
    if (!still_pending)
        fail_msg("expected the send to be still pending when the receive failed; it had "
                 "finished, so the scenario could not be measured");
    if (freed_at_once != freed_at_once_predicted)
        fail_msg("expected your prediction to match: you predicted that dispose would %s, "
                 "but the send context read %s\"in progress\" while its WSASend was pending, "
                 "so dispose would %s. Which context does the slip mark complete?",
                 freed_at_once_predicted ? "free the send context at once"
                                         : "leave the send context to its completion",
                 freed_at_once ? "NOT " : "",
                 freed_at_once ? "free its OVERLAPPED and buffer under the kernel's feet"
                               : "leave it to the send's completion");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(part_1_the_prediction_matches_the_leak_report),
        cmocka_unit_test(part_2_the_prediction_matches_what_dispose_would_do_to_the_send),
    };
    return CK_RUN_CHECKER("exercise 07.1", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
