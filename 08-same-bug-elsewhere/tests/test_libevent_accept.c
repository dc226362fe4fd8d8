/* libevent#664: a server behind a load balancer whose TCP health checks connect and send
 * nothing. Its AcceptEx had a receive length, so an accept completes only with a client's
 * first bytes: each silent probe holds an accept until it leaves, and then ends it with an
 * error. Built twice: as the reporter had it (the probes hold every accept, and a real
 * client waits behind them) and with a receive length of 0 (accepted at once; the
 * session's own receive waits for the bytes). */
#include "case_kit.h"
#include "libevent_accept.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { SERVED_WHILE_PROBED = 1, ACCEPT_ERRORS = 0 };
#else
enum { SERVED_WHILE_PROBED = 0, ACCEPT_ERRORS = LEV_SLOTS };
#endif

/* Handles packets until done(listener) or timeout_ms pass; returns done(listener). */
static bool dispatch_until(lev_listener *listener, bool (*done)(const lev_listener *),
                           DWORD timeout_ms)
{
    DWORD started = GetTickCount();
    while (!done(listener) && GetTickCount() - started < timeout_ms)
        lev_dispatch(listener, 50);
    return done(listener);
}

static bool served(const lev_listener *listener)
{
    return listener->requests == 1;
}

static bool only_the_client_left(const lev_listener *listener)
{
    return listener->requests == 1 && listener->sessions == 1 &&
           listener->accept_errors == ACCEPT_ERRORS;
}

static bool nobody_left(const lev_listener *listener)
{
    return listener->sessions == 0;
}

static void silent_probes_must_not_hold_the_accepts(void **state)
{
    (void)state;
    long before = kit_live();
    lev_listener *listener = lev_listen();
    assert_non_null(listener);

    SOCKET probes[LEV_SLOTS];
    for (int i = 0; i < LEV_SLOTS; i++) {
        probes[i] = net_connect_loopback(listener->port_number); /* and says nothing */
        assert_true(probes[i] != INVALID_SOCKET);
    }
    SOCKET client = net_connect_loopback(listener->port_number);
    assert_true(client != INVALID_SOCKET);
    assert_true(net_send_all(client, "GET /", 5));

    /* While the probes are connected: is the client's request served? */
    dispatch_until(listener, served, 1000);
    print_message("while probed: %ld request(s) served, %ld session(s)\n", listener->requests,
                  listener->sessions);
    assert_int_equal(listener->requests, SERVED_WHILE_PROBED);

    /* The probes leave with a reset, as a health check does. */
    for (int i = 0; i < LEV_SLOTS; i++)
        net_hard_reset(probes[i]);
    assert_true(dispatch_until(listener, only_the_client_left, TK_PROMPT_MS));
    print_message("after the resets: %ld accept error(s)\n", listener->accept_errors);

    closesocket(client);
    assert_true(dispatch_until(listener, nobody_left, TK_PROMPT_MS));
    lev_close(listener);
    assert_int_equal(kit_live(), before);
}

/* The same in both builds: a client that sends at once is served, and freed when it goes. */
static void a_client_that_talks_at_once_is_served(void **state)
{
    (void)state;
    long before = kit_live();
    lev_listener *listener = lev_listen();
    assert_non_null(listener);
    SOCKET client = net_connect_loopback(listener->port_number);
    assert_true(client != INVALID_SOCKET);
    assert_true(net_send_all(client, "GET /", 5));
    assert_true(dispatch_until(listener, served, TK_PROMPT_MS));
    closesocket(client);
    assert_true(dispatch_until(listener, nobody_left, TK_PROMPT_MS));
    assert_int_equal(listener->accept_errors, 0);
    lev_close(listener);
    assert_int_equal(kit_live(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(silent_probes_must_not_hold_the_accepts),
        cmocka_unit_test(a_client_that_talks_at_once_is_served),
    };
    return cmocka_run_group_tests_name("libevent_accept", tests, tk_winsock_up,
                                       tk_winsock_down);
}
