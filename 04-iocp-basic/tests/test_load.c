/* 500 clients connected at once, each echoing several messages through step 04's server
 * (in-process, default worker count): every byte comes back to the right client, and no
 * context is left when the server stops. */
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum {
    CLIENT_THREADS = 10,
    SOCKETS_PER_THREAD = 50, /* 500 connections open at the same time */
    ROUNDS = 10,
    MESSAGE_SIZE = 2048 /* small enough that 50 unread echoes fit in the socket buffers */
};

typedef struct client_job {
    unsigned short port;
    int first_seed;
    HANDLE all_connected;      /* set when every thread has connected its sockets */
    volatile LONG *to_connect; /* threads still connecting                        */
    bool ok;
    char problem[128];
} client_job;

static bool note_problem(client_job *job, const char *what, int index)
{
    snprintf(job->problem, sizeof job->problem, "%s on socket %d (error %d)", what, index,
             WSAGetLastError());
    return false;
}

static bool connect_all(client_job *job, SOCKET *sockets)
{
    for (int i = 0; i < SOCKETS_PER_THREAD; i++) {
        sockets[i] = net_connect_loopback(job->port);
        if (sockets[i] == INVALID_SOCKET)
            return note_problem(job, "connect", i);
        net_set_recv_timeout(sockets[i], TK_PROMPT_MS);
    }
    return true;
}

/* Each round sends one message on every socket, then reads every echo back. */
static bool echo_rounds(client_job *job, SOCKET *sockets)
{
    unsigned char sent[MESSAGE_SIZE], received[MESSAGE_SIZE];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < SOCKETS_PER_THREAD; i++) {
            tk_fill_pattern(sent, sizeof sent, (unsigned)(job->first_seed + i * ROUNDS + round));
            if (!net_send_all(sockets[i], sent, sizeof sent))
                return note_problem(job, "send", i);
        }
        for (int i = 0; i < SOCKETS_PER_THREAD; i++) {
            tk_fill_pattern(sent, sizeof sent, (unsigned)(job->first_seed + i * ROUNDS + round));
            if (!net_recv_all(sockets[i], received, sizeof received))
                return note_problem(job, "receive", i);
            if (memcmp(sent, received, sizeof sent) != 0)
                return note_problem(job, "wrong bytes", i);
        }
    }
    return true;
}

static DWORD WINAPI run_clients(void *argument)
{
    client_job *job = argument;
    SOCKET sockets[SOCKETS_PER_THREAD];
    for (int i = 0; i < SOCKETS_PER_THREAD; i++)
        sockets[i] = INVALID_SOCKET;
    job->ok = connect_all(job, sockets);
    if (InterlockedDecrement(job->to_connect) == 0)
        SetEvent(job->all_connected);
    if (job->ok && WaitForSingleObject(job->all_connected, 20000) != WAIT_OBJECT_0)
        job->ok = note_problem(job, "waiting for the other threads", -1);
    if (job->ok)
        job->ok = echo_rounds(job, sockets);
    for (int i = 0; i < SOCKETS_PER_THREAD; i++) {
        if (sockets[i] != INVALID_SOCKET)
            closesocket(sockets[i]);
    }
    return 0;
}

static void five_hundred_concurrent_clients_echo_byte_exact_and_nothing_leaks(void **state)
{
    (void)state;
    server_config config = {0, 0};
    server *srv = server_start(&config);
    assert_non_null(srv);

    volatile LONG to_connect = CLIENT_THREADS;
    HANDLE all_connected = CreateEventA(NULL, TRUE, FALSE, NULL);
    client_job jobs[CLIENT_THREADS];
    HANDLE threads[CLIENT_THREADS];
    ULONGLONG started = GetTickCount64();
    for (int t = 0; t < CLIENT_THREADS; t++) {
        jobs[t] = (client_job){server_port(srv), t * SOCKETS_PER_THREAD * ROUNDS,
                               all_connected, &to_connect, false, ""};
        threads[t] = CreateThread(NULL, 0, run_clients, &jobs[t], 0, NULL);
        assert_non_null(threads[t]);
    }
    tk_assert_wait(WaitForMultipleObjects(CLIENT_THREADS, threads, TRUE, 60000), WAIT_OBJECT_0);
    ULONGLONG elapsed = GetTickCount64() - started;
    for (int t = 0; t < CLIENT_THREADS; t++) {
        CloseHandle(threads[t]);
        if (!jobs[t].ok)
            fail_msg("client thread %d: %s", t, jobs[t].problem);
    }
    CloseHandle(all_connected);

    server_counters final;
    server_stop(srv, &final);
    long long expected = (long long)CLIENT_THREADS * SOCKETS_PER_THREAD * ROUNDS * MESSAGE_SIZE;
    print_message("%d clients, %lld bytes echoed in %llu ms\n",
                  CLIENT_THREADS * SOCKETS_PER_THREAD, (long long)final.bytes_echoed,
                  (unsigned long long)elapsed);
    assert_int_equal(final.accepted, CLIENT_THREADS * SOCKETS_PER_THREAD);
    assert_int_equal(final.closed, final.accepted);
    assert_int_equal(final.bytes_echoed, expected);
    assert_int_equal(final.live_contexts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(five_hundred_concurrent_clients_echo_byte_exact_and_nothing_leaks),
    };
    return cmocka_run_group_tests_name("step04 load", tests, tk_winsock_up, tk_winsock_down);
}
