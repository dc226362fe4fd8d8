/* The thread-per-client echo server, run in this process on a free port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "process_stats.h"
#include "server.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

static server *start_server(void)
{
    server_config config = {0, NULL, NULL};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

static void connect_clients(server *srv, SOCKET *clients, int count)
{
    for (int i = 0; i < count; i++) {
        clients[i] = net_connect_loopback(server_port(srv));
        assert_true(clients[i] != INVALID_SOCKET);
        net_set_recv_timeout(clients[i], TK_PROMPT_MS);
    }
}

static void close_clients(SOCKET *clients, int count)
{
    for (int i = 0; i < count; i++)
        closesocket(clients[i]);
}

/* Sends a payload small enough to sit in the socket buffers, half-closes, and checks
 * that exactly the same bytes come back before the server closes. */
static void assert_echoes(SOCKET s, const unsigned char *payload, size_t length)
{
    assert_true(net_send_all(s, payload, length));
    assert_int_equal(shutdown(s, SD_SEND), 0);
    unsigned char *reply = malloc(length + 1);
    assert_non_null(reply);
    assert_true(net_recv_all(s, reply, length));
    assert_memory_equal(reply, payload, length);
    char extra;
    assert_int_equal(recv(s, &extra, 1, 0), 0); /* and then the server closes */
    free(reply);
}

static bool process_has_threads(void *expected)
{
    return process_stats_now().threads == *(const unsigned long *)expected;
}

/* The OS tells no one when a thread has gone, so this one polls, with a bound. */
static bool process_threads_become(unsigned long expected)
{
    return tk_wait_until(process_has_threads, &expected, TK_PROMPT_MS);
}

static void a_client_gets_its_bytes_back_and_then_the_server_closes(void **state)
{
    (void)state;
    server *srv = start_server();
    SOCKET s;
    connect_clients(srv, &s, 1);
    assert_echoes(s, (const unsigned char *)"hello, blocking world", 21);
    closesocket(s);
    assert_true(server_wait_for_threads(srv, 1, TK_PROMPT_MS));
    server_counters last;
    server_stop(srv, &last);
    assert_int_equal(last.clients_served, 1);
    assert_int_equal(last.bytes_echoed, 21);
}

static void several_clients_echo_at_once_with_different_payloads(void **state)
{
    (void)state;
    enum { count = 8, most = 48 * 1024 };
    server *srv = start_server();
    SOCKET clients[count];
    connect_clients(srv, clients, count);
    /* All eight are being served at the same time: eight client threads + the acceptor. */
    assert_true(server_wait_for_threads(srv, count + 1, TK_PROMPT_MS));

    static unsigned char payloads[count][most];
    for (int i = 0; i < count; i++) {
        size_t length = most - (size_t)i * 1000; /* different sizes, different bytes */
        tk_fill_pattern(payloads[i], length, 100u + (unsigned)i);
        assert_echoes(clients[i], payloads[i], length);
    }
    close_clients(clients, count);
    assert_true(server_wait_for_threads(srv, 1, TK_PROMPT_MS));
    server_counters last;
    server_stop(srv, &last);
    assert_int_equal(last.clients_served, count);
    assert_int_equal(last.peak_threads, count + 1);
}

static void the_client_program_gets_a_megabyte_back_byte_exact(void **state)
{
    (void)state;
    enum { size = 1 << 20 };
    static unsigned char payload[size];
    tk_fill_pattern(payload, size, 11);
    server *srv = start_server();
    client_buffer reply;
    assert_true(client_exchange_stream(server_port(srv), payload, size, TK_PROMPT_MS, &reply));
    assert_int_equal(reply.length, size);
    assert_memory_equal(reply.data, payload, size);
    client_buffer_free(&reply);
    server_stop(srv, NULL);
}

static void the_thread_count_grows_with_clients_and_returns_to_baseline(void **state)
{
    (void)state;
    enum { count = 10 };
    server *srv = start_server();
    assert_int_equal(server_counters_now(srv).threads, 1); /* the acceptor */
    unsigned long baseline = process_stats_now().threads;

    SOCKET clients[count];
    connect_clients(srv, clients, count);
    assert_true(server_wait_for_threads(srv, count + 1, TK_PROMPT_MS));
    assert_int_equal(server_counters_now(srv).clients, count);
    assert_int_equal(process_stats_now().threads, baseline + count); /* real OS threads */

    close_clients(clients, count);
    assert_true(server_wait_for_threads(srv, 1, TK_PROMPT_MS));
    assert_int_equal(server_counters_now(srv).clients, 0);
    assert_true(process_threads_become(baseline));
    server_stop(srv, NULL);
}

/* With a thread each, a client that sends nothing holds up only its own thread. */
static void an_idle_client_does_not_hold_up_another_client(void **state)
{
    (void)state;
    server *srv = start_server();
    SOCKET clients[2];
    connect_clients(srv, clients, 2);
    assert_true(server_wait_for_threads(srv, 3, TK_PROMPT_MS));
    assert_echoes(clients[1], (const unsigned char *)"still served", 12); /* [0] is idle */
    close_clients(clients, 2);
    server_stop(srv, NULL);
}

static void a_client_that_resets_ends_its_thread_and_the_server_goes_on(void **state)
{
    (void)state;
    server *srv = start_server();
    SOCKET s;
    connect_clients(srv, &s, 1);
    assert_true(server_wait_for_threads(srv, 2, TK_PROMPT_MS));
    net_hard_reset(s);
    assert_true(server_wait_for_threads(srv, 1, TK_PROMPT_MS));
    connect_clients(srv, &s, 1);
    assert_echoes(s, (const unsigned char *)"after the reset", 15);
    closesocket(s);
    server_stop(srv, NULL);
}

typedef struct stop_job {
    server *srv;
    server_counters last;
} stop_job;

static DWORD WINAPI stop_server(void *argument)
{
    stop_job *job = argument;
    server_stop(job->srv, &job->last);
    return 0;
}

/* The client threads are asleep in recv and will never wake on their own: server_stop
 * closes their sockets, which fails their recv; each thread then ends. */
static void stopping_with_idle_clients_connected_wakes_and_ends_every_thread(void **state)
{
    (void)state;
    enum { count = 5 };
    server *srv = start_server();
    SOCKET clients[count];
    connect_clients(srv, clients, count);
    assert_true(server_wait_for_threads(srv, count + 1, TK_PROMPT_MS));

    stop_job job = {srv, {0}};
    HANDLE stopper = CreateThread(NULL, 0, stop_server, &job, 0, NULL);
    assert_non_null(stopper);
    tk_assert_wait(WaitForSingleObject(stopper, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(stopper);
    assert_int_equal(job.last.threads, 0);
    assert_int_equal(job.last.clients, 0);
    for (int i = 0; i < count; i++) {
        char byte;
        tk_wait_readable(clients[i], TK_PROMPT_MS);
        assert_int_equal(recv(clients[i], &byte, 1, 0), 0); /* an orderly close */
    }
    close_clients(clients, count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_client_gets_its_bytes_back_and_then_the_server_closes),
        cmocka_unit_test(several_clients_echo_at_once_with_different_payloads),
        cmocka_unit_test(the_client_program_gets_a_megabyte_back_byte_exact),
        cmocka_unit_test(the_thread_count_grows_with_clients_and_returns_to_baseline),
        cmocka_unit_test(an_idle_client_does_not_hold_up_another_client),
        cmocka_unit_test(a_client_that_resets_ends_its_thread_and_the_server_goes_on),
        cmocka_unit_test(stopping_with_idle_clients_connected_wakes_and_ends_every_thread),
    };
    return cmocka_run_group_tests_name("step01 server", tests, tk_winsock_up, tk_winsock_down);
}
