/* Checker of exercise 06.1 (predict): three sends fail at once on reset connections, two
 * pending receives are disposed by the idle timeout. What does step 06's leak report list?
 * The checker runs the scenario for real on step 06's socket objects and compares the
 * report with prediction_06_1.h. */
#include "support.h"
#include "tutorial/net.h"

#include "prediction_06_1.h"

enum { SENDS_FAILING = 3, RECEIVES_IDLE = 2, REPORT_SIZE = 2048 };

static void send_on_a_reset_connection_then_dispose(void)
{
    async_socket *s = connection_reset_by_peer(); /* the reset has arrived */
    DWORD error = async_socket_send(s, 0, 1);
    if (error != WSAECONNRESET)
        fail_msg("expected the send on a reset connection to fail at once with WSAECONNRESET "
                 "(10054), as the scenario says; it returned %lu", (unsigned long)error);
    async_socket_dispose(s);
}

/* What the idle timeout does: dispose while the receive is pending, then the worker's
 * part: the aborted packet comes back and context_complete frees the context. */
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

static void the_prediction_matches_the_leak_report(void **state)
{
    (void)state;
    long predicted_contexts = PREDICTED_LEAKED_CONTEXTS;
    long predicted_sockets = PREDICTED_LEAKED_SOCKETS;
    int predicted_operation = PREDICTED_OPERATION;
    if (predicted_contexts < 0 || predicted_sockets < 0)
        fail_msg("expected a prediction in 06-leak-bug/exercises/prediction_06_1.h; "
                 "PREDICTED_LEAKED_CONTEXTS and PREDICTED_LEAKED_SOCKETS must not be -1");
    if (predicted_contexts > 0 && predicted_operation == OP_NONE)
        fail_msg("you predict %ld leaked context(s): expected PREDICTED_OPERATION to name "
                 "their operation (OP_ACCEPT, OP_RECEIVE or OP_SEND), not OP_NONE",
                 predicted_contexts);

    registry_totals before;
    registry_get_totals(&before);
    for (int i = 0; i < SENDS_FAILING; i++)
        send_on_a_reset_connection_then_dispose();
    for (int i = 0; i < RECEIVES_IDLE; i++)
        dispose_a_pending_receive_and_handle_its_packet();
    registry_totals after;
    registry_get_totals(&after);
    long contexts = after.contexts - before.contexts;
    long sockets = after.sockets - before.sockets;
    static char report[REPORT_SIZE];
    read_report(report, sizeof report);
    int operation = operation_in_report(report);
    print_message("measured: the leak report says\n%s", report);

    if (contexts != predicted_contexts || sockets != predicted_sockets ||
        (contexts > 0 && operation != predicted_operation))
        fail_msg("expected your prediction to match: you predicted %ld context(s) and %ld "
                 "socket object(s)%s%s, but the report lists %ld context(s) (op=%s) and %ld "
                 "socket object(s). Which of the five operations started in the kernel, and "
                 "which will never see a completion?",
                 predicted_contexts, predicted_sockets, predicted_contexts > 0 ? ", op=" : "",
                 predicted_contexts > 0 ? reported_operation_name(predicted_operation) : "",
                 contexts, contexts > 0 ? reported_operation_name(operation) : "-", sockets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_prediction_matches_the_leak_report),
    };
    return cmocka_run_group_tests_name("exercise 06.1", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
