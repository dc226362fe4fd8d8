/* The completion-routine echo server, run in-process on a free port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "server.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

static server *start(void)
{
    server_config config = {0};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

static SOCKET connect_client(server *srv)
{
    SOCKET s = net_connect_loopback(server_port(srv));
    assert_true(s != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
    return s;
}

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

/* Half-closes and waits until the server closes too. */
static void leave(SOCKET s)
{
    char byte;
    assert_int_equal(shutdown(s, SD_SEND), 0);
    assert_int_equal(recv(s, &byte, 1, 0), 0);
    closesocket(s);
}

/* Beyond step 02's 62: nothing here waits on a per-client event. */
static void a_hundred_clients_are_echoed_at_once_by_one_thread(void **state)
{
    (void)state;
    enum { count = 100 };
    server *srv = start();
    SOCKET clients[count];
    for (int i = 0; i < count; i++)
        clients[i] = connect_client(srv);
    for (int i = 0; i < count; i++)
        echo_once(clients[i], (unsigned)i, 1500);
    server_counters now = server_counters_now(srv);
    assert_int_equal(now.accepted, count);
    assert_int_equal(now.clients, count);
    for (int i = 0; i < count; i++)
        leave(clients[i]);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.clients, 0);
    assert_int_equal(final.bytes_echoed, count * 1500);
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
    server *srv = start();
    exchange jobs[count];
    HANDLE threads[count];
    for (int i = 0; i < count; i++) {
        jobs[i] = (exchange){server_port(srv), 200u + (unsigned)i, false};
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

/* The server counts on its own thread, and some of what it counts cannot be awaited from
 * outside: a client's accept, or the routine that runs a moment after its echo has reached
 * the client. These watch one of its counters, with a bound. */
typedef long (*counter_reader)(const server_counters *now);

static long accepted_of(const server_counters *now)
{
    return now->accepted;
}

static long routines_run_of(const server_counters *now)
{
    return now->routines_run;
}

typedef struct counter_wait {
    server *srv;
    counter_reader read;
    long count;
} counter_wait;

static bool counter_reached(void *argument)
{
    const counter_wait *w = argument;
    server_counters now = server_counters_now(w->srv);
    return w->read(&now) >= w->count;
}

static void wait_for_counter(server *srv, counter_reader read, long count)
{
    counter_wait w = {srv, read, count};
    tk_wait_until(counter_reached, &w, TK_PROMPT_MS);
    server_counters now = server_counters_now(srv);
    assert_int_equal(read(&now), count);
}

static void a_client_that_resets_mid_echo_does_not_disturb_the_others(void **state)
{
    (void)state;
    server *srv = start();
    SOCKET steady = connect_client(srv);
    echo_once(steady, 1, 100);
    for (int i = 0; i < 10; i++) {
        SOCKET rude = connect_client(srv);
        /* Reset only once the server holds the connection: a reset still in the backlog
         * would be a different case: on Windows accept() then fails with WSAECONNRESET
         * (Microsoft's page on accept). */
        wait_for_counter(srv, accepted_of, i + 2);
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

/* The stop APC ends the loop; each cancelled receive's routine frees its client. */
static void stopping_with_idle_clients_runs_each_cancelled_routine_and_frees_it(void **state)
{
    (void)state;
    enum { count = 5 };
    server *srv = start();
    SOCKET idle[count];
    for (int i = 0; i < count; i++) {
        idle[i] = connect_client(srv);
        echo_once(idle[i], (unsigned)i, 10);
    }
    /* received, sent: now a receive is pending (the echo can reach the client a moment
     * before the send's routine has run and posted it) */
    wait_for_counter(srv, routines_run_of, 2 * count);
    long routines_before = 2 * count;
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.accepted, count);
    assert_int_equal(final.clients, 0);
    assert_int_equal(final.routines_run - routines_before, count); /* one per receive */
    for (int i = 0; i < count; i++) {
        char byte;
        assert_true(recv(idle[i], &byte, 1, 0) <= 0); /* closed by the server */
        closesocket(idle[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hundred_clients_are_echoed_at_once_by_one_thread),
        cmocka_unit_test(eight_clients_get_a_mebibyte_each_back_byte_exact),
        cmocka_unit_test(a_client_that_resets_mid_echo_does_not_disturb_the_others),
        cmocka_unit_test(stopping_with_idle_clients_runs_each_cancelled_routine_and_frees_it),
    };
    return cmocka_run_group_tests_name("step03 server", tests, tk_winsock_up, tk_winsock_down);
}
