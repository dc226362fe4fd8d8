/* The event-driven echo server, run in-process on a free port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "support.h"
#include "tutorial/net.h"

/* Sends a pattern and reads the same bytes back. */
static void echo_once(SOCKET s, unsigned seed, size_t size)
{
    unsigned char sent[2000], back[2000];
    assert_true(size <= sizeof sent);
    tk_fill_pattern(sent, size, seed);
    assert_true(net_send_all(s, sent, size));
    assert_true(net_recv_all(s, back, size));
    assert_memory_equal(back, sent, size);
}

/* The refused client reads the message, then the end of the stream. */
static void expect_server_full(SOCKET s)
{
    char reply[64] = {0};
    size_t length = strlen(SERVER_FULL_MESSAGE);
    assert_true(net_recv_all(s, reply, length));
    assert_string_equal(reply, SERVER_FULL_MESSAGE);
    assert_int_equal(recv(s, reply, 1, 0), 0);
    closesocket(s);
}

static void sixty_two_clients_are_echoed_at_once_and_the_63rd_is_refused(void **state)
{
    (void)state;
    server *srv = start_server(0);
    SOCKET clients[SERVER_MAX_CLIENTS];
    for (int i = 0; i < SERVER_MAX_CLIENTS; i++)
        clients[i] = connect_client(srv);
    /* All 62 are connected at the same time: every one is served. */
    for (int i = 0; i < SERVER_MAX_CLIENTS; i++)
        echo_once(clients[i], (unsigned)i, 1500);
    expect_server_full(connect_client(srv));

    server_counters now = server_counters_now(srv);
    assert_int_equal(now.accepted, 62);
    assert_int_equal(now.refused, 1);
    assert_int_equal(now.clients, 62);
    for (int i = 0; i < SERVER_MAX_CLIENTS; i++)
        leave(clients[i]);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.clients, 0);
    assert_int_equal(final.bytes_echoed, 62 * 1500);
}

static void a_slot_freed_by_a_leaving_client_serves_the_next_one(void **state)
{
    (void)state;
    server *srv = start_server(2);
    SOCKET a = connect_client(srv), b = connect_client(srv);
    echo_once(a, 1, 10);
    echo_once(b, 2, 10);
    expect_server_full(connect_client(srv));

    leave(a); /* the server closes a's slot before the close reaches us */
    SOCKET c = connect_client(srv);
    echo_once(c, 3, 10);
    echo_once(b, 4, 10);
    assert_int_equal(server_counters_now(srv).refused, 1);
    leave(b);
    leave(c);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.accepted, 3);
    assert_int_equal(final.clients, 0);
}

typedef struct exchange {
    unsigned short port;
    unsigned seed;
    bool ok;
} exchange;

static DWORD WINAPI exchange_one_mebibyte(void *argument)
{
    exchange *job = argument;
    enum { size = 1 << 20 };
    unsigned char *payload = malloc(size);
    if (payload == NULL)
        return 1;
    tk_fill_pattern(payload, size, job->seed);
    client_buffer reply;
    job->ok = client_exchange_stream(job->port, payload, size, TK_PROMPT_MS, &reply) &&
              reply.length == size && memcmp(reply.data, payload, size) == 0;
    client_buffer_free(&reply);
    free(payload);
    return 0;
}

static void eight_clients_get_a_mebibyte_each_back_byte_exact(void **state)
{
    (void)state;
    enum { count = 8 };
    server *srv = start_server(0);
    exchange jobs[count];
    HANDLE threads[count];
    for (int i = 0; i < count; i++) {
        jobs[i] = (exchange){server_port(srv), 100u + (unsigned)i, false};
        threads[i] = CreateThread(NULL, 0, exchange_one_mebibyte, &jobs[i], 0, NULL);
        assert_non_null(threads[i]);
    }
    tk_assert_wait(WaitForMultipleObjects(count, threads, TRUE, 30000), WAIT_OBJECT_0);
    for (int i = 0; i < count; i++) {
        CloseHandle(threads[i]);
        assert_true(jobs[i].ok);
    }
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.bytes_echoed, (long long)count << 20);
    assert_int_equal(final.clients, 0);
}

/* The server accepts on its own thread, and nothing outside it can be awaited for that, so
 * this watches its counter, with a bound. */
typedef struct accepted_wait {
    server *srv;
    long count;
} accepted_wait;

static bool has_accepted(void *argument)
{
    const accepted_wait *w = argument;
    return server_counters_now(w->srv).accepted >= w->count;
}

static void wait_until_accepted(server *srv, long count)
{
    accepted_wait w = {srv, count};
    tk_wait_until(has_accepted, &w, TK_PROMPT_MS);
    assert_int_equal(server_counters_now(srv).accepted, count);
}

static void a_client_that_resets_mid_echo_does_not_disturb_the_others(void **state)
{
    (void)state;
    server *srv = start_server(0);
    SOCKET steady = connect_client(srv);
    echo_once(steady, 1, 100);
    for (int i = 0; i < 10; i++) {
        SOCKET rude = connect_client(srv);
        /* Reset only once the server holds the connection: a reset still in the backlog
         * would be a different case: on Windows accept() then fails with WSAECONNRESET
         * (Microsoft's page on accept). */
        wait_until_accepted(srv, i + 2);
        unsigned char data[1000];
        tk_fill_pattern(data, sizeof data, 7);
        assert_true(net_send_all(rude, data, sizeof data));
        net_hard_reset(rude); /* the echo may be on its way: the server's send fails */
        echo_once(steady, (unsigned)i + 2, 100);
    }
    leave(steady);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.accepted, 11);
    assert_int_equal(final.clients, 0);
}

static void stopping_with_idle_clients_ends_their_receives_and_frees_them(void **state)
{
    (void)state;
    server *srv = start_server(0);
    SOCKET idle[5];
    for (int i = 0; i < 5; i++) {
        idle[i] = connect_client(srv);
        echo_once(idle[i], (unsigned)i, 10); /* served: a receive is pending now */
    }
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.accepted, 5);
    assert_int_equal(final.clients, 0);
    for (int i = 0; i < 5; i++) {
        char byte;
        assert_true(recv(idle[i], &byte, 1, 0) <= 0); /* closed by the server */
        closesocket(idle[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sixty_two_clients_are_echoed_at_once_and_the_63rd_is_refused),
        cmocka_unit_test(a_slot_freed_by_a_leaving_client_serves_the_next_one),
        cmocka_unit_test(eight_clients_get_a_mebibyte_each_back_byte_exact),
        cmocka_unit_test(a_client_that_resets_mid_echo_does_not_disturb_the_others),
        cmocka_unit_test(stopping_with_idle_clients_ends_their_receives_and_frees_them),
    };
    return cmocka_run_group_tests_name("step02 server", tests, tk_winsock_up, tk_winsock_down);
}
