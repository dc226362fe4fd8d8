/* Checker of exercise 05.2 (find the bug): when AcceptEx fails at once, no packet will
 * ever come for its context, so the acceptor must see the failure right there: count and
 * report it, and free the context and the socket. The checker provokes a real immediate
 * failure: it hands AcceptEx a socket handle that it has already closed, which fails with
 * WSAENOTSOCK (measured under Wine 8; Wine accepts many other bad arguments as pending).
 * It also runs the normal path, so that a "fix" that breaks it is caught too. */
#include <string.h>

#include "buggy_acceptor.h"
#include "support.h"
#include "tutorial/net.h"

enum { NO_PACKET_MS = 300, ACCEPTS = 3 };

typedef struct fixture {
    SOCKET listener;
    unsigned short port_number;
    HANDLE port;
    acceptor *acceptor;
} fixture;

/* A listening socket associated with a new port, and an acceptor for it. */
static fixture set_up(void)
{
    fixture f;
    f.listener = listen_on_new_port(&f.port_number, &f.port, 0);
    f.acceptor = acceptor_new(f.listener);
    assert_non_null(f.acceptor);
    return f;
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

static void an_accept_ex_that_fails_at_once_is_counted_and_its_context_freed(void **state)
{
    (void)state;
    fixture f = set_up();
    int posted = 0;
    for (int i = 0; i < ACCEPTS; i++) {
        SOCKET gone = new_overlapped_socket();
        closesocket(gone); /* not a socket any more: AcceptEx fails at once */
        posted += acceptor_post(f.acceptor, gone);
    }
    bool packet = deliver_one_packet(&f, NO_PACKET_MS);
    acceptor_counters c = counters_of(&f);
    print_message("acceptor_post said true %d times: %ld pending, %ld failed at once, %ld "
                  "contexts alive\n", posted, c.pending, c.failed_at_once, c.live_contexts);
    if (packet)
        fail_msg("expected no packet for an AcceptEx that failed at once");
    if (posted != 0 || c.pending != 0 || c.failed_at_once != ACCEPTS || c.live_contexts != 0)
        fail_msg("expected each of the %d AcceptEx calls given a closed socket to fail at "
                 "once: acceptor_post returning false, with 0 pending, %d failed at once and "
                 "0 contexts alive. It returned true %d times, with %ld pending, %ld failed "
                 "at once and %ld contexts alive; and in %d ms no packet came for any of them: "
                 "those contexts would wait forever.",
                 ACCEPTS, ACCEPTS, posted, c.pending, c.failed_at_once, c.live_contexts,
                 NO_PACKET_MS);
    closesocket(f.listener);
    acceptor_free(f.acceptor);
    CloseHandle(f.port);
}

static void accepts_on_a_listening_socket_are_pending_and_complete_once(void **state)
{
    (void)state;
    fixture f = set_up();
    int posted = 0;
    for (int i = 0; i < ACCEPTS; i++)
        posted += acceptor_post(f.acceptor, new_overlapped_socket());
    acceptor_counters c = counters_of(&f);
    if (posted != ACCEPTS || c.pending != ACCEPTS || c.failed_at_once != 0)
        fail_msg("expected %d AcceptEx calls pending on a listening socket, none failed; "
                 "acceptor_post said true %d times, with %ld pending and %ld failed at once",
                 ACCEPTS, posted, c.pending, c.failed_at_once);
    if (deliver_one_packet(&f, NO_PACKET_MS))
        fail_msg("expected no packet before any client connects");

    SOCKET client = net_connect_loopback(f.port_number);
    assert_true(client != INVALID_SOCKET);
    if (!deliver_one_packet(&f, TK_PROMPT_MS))
        fail_msg("expected an accept packet within %d ms of a client connecting",
                 TK_PROMPT_MS);
    c = counters_of(&f);
    assert_int_equal(c.accepted, 1);
    assert_int_equal(c.pending, ACCEPTS - 1);

    closesocket(f.listener); /* the other accepts come back aborted */
    for (int i = 1; i < ACCEPTS; i++)
        if (!deliver_one_packet(&f, TK_PROMPT_MS))
            fail_msg("expected the aborted packet of each accept still pending");
    c = counters_of(&f);
    assert_int_equal(c.pending, 0);
    assert_int_equal(c.accepted, 1);
    assert_int_equal(c.live_contexts, 0);
    closesocket(client);
    acceptor_free(f.acceptor);
    CloseHandle(f.port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_accept_ex_that_fails_at_once_is_counted_and_its_context_freed),
        cmocka_unit_test(accepts_on_a_listening_socket_are_pending_and_complete_once),
    };
    return cmocka_run_group_tests_name("exercise 05.2", tests, tk_winsock_up, tk_winsock_down);
}
