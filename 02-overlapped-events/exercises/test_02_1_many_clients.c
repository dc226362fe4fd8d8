/* Checker of exercise 02.1 (extend): with max_clients = 150, the server serves 150
 * clients connected at the same time, more than one wait's 64 events can watch, and
 * refuses the 151st. Stopping frees every client. */
#include <string.h>

#include "support.h"
#include "tutorial/net.h"

enum { CLIENTS = 150, MESSAGE = 100 };

/* Sends a pattern and expects the same bytes back; does not fail the test itself. */
static bool echoed(SOCKET s, unsigned seed)
{
    unsigned char sent[MESSAGE], back[MESSAGE];
    tk_fill_pattern(sent, sizeof sent, seed);
    return net_send_all(s, sent, sizeof sent) && net_recv_all(s, back, sizeof back) &&
           memcmp(back, sent, sizeof sent) == 0;
}

static void connect_and_echo_all(server *srv, SOCKET clients[CLIENTS])
{
    for (int i = 0; i < CLIENTS; i++)
        clients[i] = connect_client(srv);
    /* All of them are connected now: each must be served while the others stay. */
    for (int i = 0; i < CLIENTS; i++) {
        if (!echoed(clients[i], (unsigned)i)) {
            server_counters now = server_counters_now(srv);
            fail_msg("expected all %d clients, connected at once, to be echoed; client %d "
                     "was not (the server has served %ld, refused %ld as full)",
                     CLIENTS, i + 1, now.accepted, now.refused);
        }
    }
}

static void expect_server_full(SOCKET s)
{
    char reply[64] = {0};
    size_t length = strlen(SERVER_FULL_MESSAGE);
    if (!net_recv_all(s, reply, length) || strcmp(reply, SERVER_FULL_MESSAGE) != 0)
        fail_msg("expected client %d to read \"server full\" (max_clients is %d); it read "
                 "\"%s\"",
                 CLIENTS + 1, CLIENTS, reply);
    closesocket(s);
}

static void a_hundred_and_fifty_clients_are_echoed_at_once_and_the_next_is_refused(void **state)
{
    (void)state;
    server *srv = start_server(CLIENTS);
    SOCKET clients[CLIENTS];
    connect_and_echo_all(srv, clients);
    expect_server_full(connect_client(srv));

    server_counters now = server_counters_now(srv);
    assert_int_equal(now.accepted, CLIENTS);
    assert_int_equal(now.refused, 1);
    assert_int_equal(now.clients, CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        leave(clients[i]);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.clients, 0);
    assert_int_equal(final.bytes_echoed, (long long)CLIENTS * MESSAGE);
}

static void stopping_frees_a_hundred_and_fifty_idle_clients(void **state)
{
    (void)state;
    server *srv = start_server(CLIENTS);
    SOCKET clients[CLIENTS];
    connect_and_echo_all(srv, clients); /* every one has a receive pending now */
    server_counters final;
    server_stop(srv, &final);
    if (final.clients != 0)
        fail_msg("expected server_stop to free every client; %ld were left", final.clients);
    for (int i = 0; i < CLIENTS; i++) {
        char byte;
        assert_true(recv(clients[i], &byte, 1, 0) <= 0); /* closed by the server */
        closesocket(clients[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hundred_and_fifty_clients_are_echoed_at_once_and_the_next_is_refused),
        cmocka_unit_test(stopping_frees_a_hundred_and_fifty_idle_clients),
    };
    return cmocka_run_group_tests_name("exercise 02.1", tests, tk_winsock_up, tk_winsock_down);
}
