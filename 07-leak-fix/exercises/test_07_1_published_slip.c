/* Checker of exercise 07.1 (predict): what the published fix's slip does, measured on the
 * step07_slip variant of the library (built with PUBLISHED_FIX_SLIP) and compared with
 * prediction_07_1.h. */
#include "support.h"

#include "prediction_07_1.h"

enum { RECEIVES_FAILING = 3, REPORT_SIZE = 2048 };

static void fail_a_receive_at_once(async_socket *s)
{
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
    DWORD error = async_socket_receive(s, 0, 16);
    if (error != WSAESHUTDOWN)
        fail_msg("expected the receive after shutdown(SD_RECEIVE) to fail at once with "
                 "WSAESHUTDOWN (10058), as the scenario says; it returned %lu",
                 (unsigned long)error);
}

static void part_1_the_prediction_matches_the_leak_report(void **state)
{
    (void)state;
    long predicted_contexts = PREDICTED_LEAKED_CONTEXTS;
    int predicted_operation = PREDICTED_OPERATION;
    if (predicted_contexts < 0)
        fail_msg("expected a prediction in 07-leak-fix/exercises/prediction_07_1.h; "
                 "PREDICTED_LEAKED_CONTEXTS must not be -1");
    if (predicted_contexts > 0 && predicted_operation == OP_NONE)
        fail_msg("you predict %ld leaked context(s): expected PREDICTED_OPERATION to name "
                 "their operation (OP_ACCEPT, OP_RECEIVE or OP_SEND), not OP_NONE",
                 predicted_contexts);

    registry_totals before;
    registry_get_totals(&before);
    for (int i = 0; i < RECEIVES_FAILING; i++) {
        SOCKET peer;
        async_socket *s = connected_socket(&peer, 4096);
        fail_a_receive_at_once(s);
        async_socket_dispose(s);
        closesocket(peer);
    }
    registry_totals after;
    registry_get_totals(&after);
    long contexts = after.contexts - before.contexts;
    static char report[REPORT_SIZE];
    read_report(report, sizeof report);
    int operation = operation_in_report(report);
    print_message("measured: the leak report says\n%s", report);
    if (contexts != predicted_contexts || (contexts > 0 && operation != predicted_operation))
        fail_msg("expected your prediction to match: you predicted %ld context(s)%s%s, but "
                 "the report lists %ld context(s) (op=%s). Which context did the slip mark "
                 "complete, and which one did dispose find still \"in progress\"?",
                 predicted_contexts, predicted_contexts > 0 ? ", op=" : "",
                 predicted_contexts > 0 ? reported_operation_name(predicted_operation) : "",
                 contexts, contexts > 0 ? reported_operation_name(operation) : "-");
}

static void part_2_the_prediction_matches_what_dispose_would_do_to_the_send(void **state)
{
    (void)state;
    long predicted = PREDICTED_SEND_CONTEXT_FREED_AT_ONCE;
    if (predicted < 0 || predicted > 1)
        fail_msg("expected a prediction in 07-leak-fix/exercises/prediction_07_1.h: "
                 "PREDICTED_SEND_CONTEXT_FREED_AT_ONCE must be 1 (freed at once) or 0 (left "
                 "to the send's completion); it is %ld", predicted);

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

    if (!still_pending)
        fail_msg("expected the send to be still pending when the receive failed; it had "
                 "finished, so the scenario could not be measured");
    if (freed_at_once != predicted)
        fail_msg("expected your prediction to match: you predicted that dispose would %s, "
                 "but the send context read %s\"in progress\" while its WSASend was pending, "
                 "so dispose would %s. Which context does the slip mark complete?",
                 predicted ? "free the send context at once" : "leave the send context to "
                 "its completion", freed_at_once ? "NOT " : "",
                 freed_at_once ? "free its OVERLAPPED and buffer under the kernel's feet"
                               : "leave it to the send's completion");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(part_1_the_prediction_matches_the_leak_report),
        cmocka_unit_test(part_2_the_prediction_matches_what_dispose_would_do_to_the_send),
    };
    return cmocka_run_group_tests_name("exercise 07.1", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
