/* Step 04's server, run in-process on port 0: it echoes byte-exact, one worker thread
 * serves many connections, resets do not disturb it, and stopping it frees every context
 * even while receives are pending. */
#include <stdlib.h>

#include "client.h"
#include "support.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* Sends text and expects exactly it back. */
static void round_trip(SOCKET s, const char *text, size_t length)
{
    char reply[64];
    assert_true(length <= sizeof reply);
    assert_true(net_send_all(s, text, length));
    assert_true(net_recv_all(s, reply, length));
    assert_memory_equal(reply, text, length);
}

static void stop_and_expect_no_leak(server *srv, LONG connections)
{
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.live_contexts, 0);
    assert_int_equal(final.accepted, connections);
    assert_int_equal(final.closed, connections);
}

static void it_echoes_a_large_payload_byte_exact_then_closes(void **state)
{
    (void)state;
    enum { size = 300000 }; /* many receives of IO_BUFFER_SIZE, many partial sends */
    unsigned char *payload = malloc(size);
    assert_non_null(payload);
    tk_fill_pattern(payload, size, 4);
    server *srv = start_server(0);

    client_buffer reply; /* returns once the server has closed the connection */
    assert_true(client_exchange_stream(server_port(srv), payload, size, TK_PROMPT_MS, &reply));
    assert_int_equal(reply.length, size);
    assert_memory_equal(reply.data, payload, size);
    client_buffer_free(&reply);

    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.bytes_echoed, size);
    assert_int_equal(final.accepted, 1);
    assert_int_equal(final.closed, 1);
    assert_int_equal(final.live_contexts, 0);
    free(payload);
}

static void one_worker_thread_serves_interleaved_clients(void **state)
{
    (void)state;
    server *srv = start_server(1);
    assert_int_equal(server_worker_count(srv), 1);
    SOCKET a = connect_to(srv), b = connect_to(srv), c = connect_to(srv);
    /* While a and b sit with a receive pending, the one worker serves c, then the others. */
    round_trip(c, "third", 5);
    round_trip(a, "first", 5);
    round_trip(b, "second", 6);
    round_trip(a, "again", 5);
    closesocket(a);
    closesocket(b);
    closesocket(c);
    stop_and_expect_no_leak(srv, 3);
}

static void a_client_that_resets_does_not_disturb_the_others(void **state)
{
    (void)state;
    server *srv = start_server(0);
    SOCKET steady = connect_to(srv);
    round_trip(steady, "before", 6);
    for (int i = 0; i < 5; i++) {
        SOCKET probe = connect_to(srv);
        round_trip(probe, "probe", 5);
        net_hard_reset(probe); /* like the incident's monitoring probe */
    }
    round_trip(steady, "after", 5);
    closesocket(steady);
    stop_and_expect_no_leak(srv, 6);
}

static void a_client_that_resets_with_its_echo_in_flight_leaves_no_context_behind(void **state)
{
    (void)state;
    enum { size = 1 << 20 }; /* more than the socket buffers hold: the echo backs up */
    unsigned char *payload = malloc(size);
    assert_non_null(payload);
    tk_fill_pattern(payload, size, 5);
    server *srv = start_server(0);
    for (int i = 0; i < 3; i++) {
        SOCKET rude = connect_to(srv);
        /* Send without reading until the window is full, then reset. */
        u_long nonblocking = 1;
        ioctlsocket(rude, FIONBIO, &nonblocking);
        send(rude, (const char *)payload, size, 0);
        net_hard_reset(rude);
    }
    SOCKET steady = connect_to(srv);
    round_trip(steady, "still here", 10);
    closesocket(steady);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.live_contexts, 0);
    assert_int_equal(final.closed, final.accepted);
    free(payload);
}

/* snippet:begin stop_test */
static void stopping_closes_idle_clients_and_frees_every_context(void **state)
{
    (void)state;
    enum { clients = 5 };
    server *srv = start_server(2);
    SOCKET idle[clients];
    for (int i = 0; i < clients; i++) {
        idle[i] = connect_to(srv);
        round_trip(idle[i], "hi", 2); /* accepted and served; now a receive waits */
    }
    server_counters final;
    server_stop(srv, &final); /* returns only once every context is freed */
    assert_int_equal(final.live_contexts, 0);
    assert_int_equal(final.closed, clients);
    assert_true(final.aborted <= clients); /* receives the close ended while pending */
    for (int i = 0; i < clients; i++) {
        char byte;
        assert_true(recv(idle[i], &byte, 1, 0) <= 0); /* the server has closed */
        closesocket(idle[i]);
    }
}
/* snippet:end stop_test */

static void a_client_that_connects_and_says_nothing_is_closed_at_stop(void **state)
{
    (void)state;
    server *srv = start_server(0);
    SOCKET silent = connect_to(srv);
    SOCKET other = connect_to(srv);
    round_trip(other, "x", 1); /* the listener took both (it accepts in order) */
    closesocket(other);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.live_contexts, 0);
    assert_int_equal(final.accepted, 2);
    char byte;
    assert_true(recv(silent, &byte, 1, 0) <= 0);
    closesocket(silent);
}

static void stopping_a_server_that_never_had_a_client_is_clean(void **state)
{
    (void)state;
    server *srv = start_server(0);
    assert_true(server_port(srv) != 0);
    assert_true(server_worker_count(srv) >= 1);
    stop_and_expect_no_leak(srv, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(it_echoes_a_large_payload_byte_exact_then_closes),
        cmocka_unit_test(one_worker_thread_serves_interleaved_clients),
        cmocka_unit_test(a_client_that_resets_does_not_disturb_the_others),
        cmocka_unit_test(a_client_that_resets_with_its_echo_in_flight_leaves_no_context_behind),
        cmocka_unit_test(stopping_closes_idle_clients_and_frees_every_context),
        cmocka_unit_test(a_client_that_connects_and_says_nothing_is_closed_at_stop),
        cmocka_unit_test(stopping_a_server_that_never_had_a_client_is_clean),
    };
    return cmocka_run_group_tests_name("step04 server", tests, tk_winsock_up, tk_winsock_down);
}
