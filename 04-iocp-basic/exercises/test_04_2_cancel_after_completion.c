/* Checker of exercise 04.2 (predict): a receive has finished and its packet waits on the
 * port; then the socket is cancelled and closed. What does GetQueuedCompletionStatus
 * report for that receive? The checker runs the scenario for real and compares what it
 * measured with prediction_04_2.h. */
#include <string.h>

#include "prediction_04_2.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#define SOCKET_KEY ((ULONG_PTR)0x50C)

typedef struct measured {
    BOOL ok;
    DWORD bytes;
    DWORD error;
} measured;

static measured run_scenario(void)
{
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(port);
    assert_true(CreateIoCompletionPort((HANDLE)server, port, SOCKET_KEY, 0) == port);

    char buffer[16];
    OVERLAPPED overlapped;
    memset(&overlapped, 0, sizeof overlapped);
    WSABUF wsabuf = {(ULONG)sizeof buffer, buffer};
    DWORD flags = 0;
    assert_int_equal(WSARecv(server, &wsabuf, 1, NULL, &flags, &overlapped, NULL),
                     SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSA_IO_PENDING);

    assert_true(net_send_all(client, "hello", 5));
    if (!tk_wait_until_completed(&overlapped, TK_PROMPT_MS))
        fail_msg("expected the receive to finish within %d ms of the client's send; it "
                 "was still pending", TK_PROMPT_MS);

    /* The packet is on the port, not dequeued. Now cancel and close, as a server that
     * stops a connection does. */
    CancelIoEx((HANDLE)server, &overlapped);
    closesocket(server);

    measured m = {FALSE, 0xDEAD, 0};
    ULONG_PTR key = 0;
    OVERLAPPED *got = NULL;
    SetLastError(0);
    m.ok = GetQueuedCompletionStatus(port, &m.bytes, &key, &got, TK_PROMPT_MS);
    m.error = m.ok ? 0 : GetLastError();
    if (got != &overlapped)
        fail_msg("expected a packet for the receive within %d ms; got none (error %lu)",
                 TK_PROMPT_MS, (unsigned long)m.error);
    print_message("measured: GetQueuedCompletionStatus returned %s with %lu bytes "
                  "(error %lu)\n", m.ok ? "TRUE" : "FALSE", (unsigned long)m.bytes,
                  (unsigned long)m.error);
    closesocket(client);
    CloseHandle(port);
    return m;
}

static void the_prediction_matches_what_the_late_packet_reports(void **state)
{
    (void)state;
    long predicted_returns = PREDICTED_GQCS_RETURNS, predicted_bytes = PREDICTED_BYTES;
    if (predicted_returns < 0 || predicted_bytes < 0)
        fail_msg("expected a prediction in 04-iocp-basic/exercises/prediction_04_2.h; "
                 "PREDICTED_GQCS_RETURNS and PREDICTED_BYTES must not be -1");
    if (predicted_returns > 1)
        fail_msg("expected PREDICTED_GQCS_RETURNS to be 1 (TRUE) or 0 (FALSE); it is %ld",
                 predicted_returns);
    measured m = run_scenario();
    long returns = m.ok ? 1 : 0;
    if (returns != predicted_returns || (long)m.bytes != predicted_bytes)
        fail_msg("expected your prediction to match: you predicted %s with %ld bytes, but "
                 "GetQueuedCompletionStatus returned %s with %lu bytes. What had already "
                 "happened to the receive when CancelIoEx ran?",
                 predicted_returns ? "TRUE" : "FALSE", predicted_bytes,
                 m.ok ? "TRUE" : "FALSE", (unsigned long)m.bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_prediction_matches_what_the_late_packet_reports),
    };
    return cmocka_run_group_tests_name("exercise 04.2", tests, tk_winsock_up, tk_winsock_down);
}
