/* Checker of exercise 03.2 (find the bug): a socket handed to the echo worker from
 * another thread must be echoed, and the worker must close it when the peer leaves. This
 * thread never waits alertably while it waits for the echo: the worker's own thread has
 * to do all the work, and it is the worker's only thread, asleep in its alertable wait
 * whenever nothing happens.
 *
 * The number of clients and the bytes change from run to run (the seed is printed first;
 * TUTORIAL_SEED=N replays a run). */
#include <stdio.h>
#include <string.h>

#include "buggy_echo_worker.h"
#include "tutorial/checkkit.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { MAX_CLIENTS = 8, QUIET_MS = 1500 };

/* A receive run on a helper thread, so that this thread's wait for it is a plain,
 * non-alertable WaitForSingleObject. */
typedef struct reading {
    SOCKET s;
    char *buffer;
    int wanted;
    int got;   /* bytes received before the end, an error or the timeout */
    bool ended; /* the peer closed (recv returned 0) */
} reading;

static DWORD WINAPI read_until_full_or_end(void *argument)
{
    reading *r = argument;
    while (r->got < r->wanted) {
        int n = recv(r->s, r->buffer + r->got, r->wanted - r->got, 0);
        if (n <= 0) {
            r->ended = n == 0;
            break;
        }
        r->got += n;
    }
    return 0;
}

/* Reads up to wanted bytes from s (bounded by s's receive timeout); returns how many. */
static int read_elsewhere(SOCKET s, char *buffer, int wanted, bool *ended)
{
    reading r = {s, buffer, wanted, 0, false};
    HANDLE helper = CreateThread(NULL, 0, read_until_full_or_end, &r, 0, NULL);
    assert_non_null(helper);
    tk_assert_wait(WaitForSingleObject(helper, 2 * TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(helper);
    if (ended != NULL)
        *ended = r.ended;
    return r.got;
}

static SOCKET adopt_a_client(echo_worker *w)
{
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    assert_true(echo_worker_adopt(w, server)); /* called on this thread */
    return client;
}

/* An adoption made by a thread of its own, which ends as soon as it has adopted. */
typedef struct adoption {
    echo_worker *worker;
    SOCKET s;
    bool adopted;
} adoption;

static DWORD WINAPI adopt_and_leave(void *argument)
{
    adoption *a = argument;
    a->adopted = echo_worker_adopt(a->worker, a->s);
    return 0;
}

static SOCKET adopt_a_client_from_another_thread(echo_worker *w)
{
    SOCKET client;
    adoption a = {w, INVALID_SOCKET, false};
    tk_socket_pair(&client, &a.s);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    HANDLE adopter = CreateThread(NULL, 0, adopt_and_leave, &a, 0, NULL);
    assert_non_null(adopter);
    tk_assert_wait(WaitForSingleObject(adopter, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(adopter);
    assert_true(a.adopted);
    return client;
}

/* A message of random letters, NUL-terminated, of 1 to 60 bytes. */
static void random_message(char message[64])
{
    int length = ck_random(1, 60);
    for (int i = 0; i < length; i++)
        message[i] = (char)('a' + ck_random(0, 25));
    message[length] = '\0';
}

static void expect_echo(SOCKET client, const char *message)
{
    char back[64] = {0};
    int length = (int)strlen(message);
    assert_true(net_send_all(client, message, (size_t)length));
    int got = read_elsewhere(client, back, length, NULL);
    if (got != length)
        fail_msg("expected the worker to echo the %d bytes sent on the socket it adopted "
                 "within %d ms; %d came back. A completion routine runs only in an alertable "
                 "wait of the thread that started the I/O",
                 length, TK_PROMPT_MS, got);
    assert_memory_equal(back, message, (size_t)length);
}

static void expect_closed_by_the_worker(SOCKET client, const char *when)
{
    char byte;
    bool ended = false;
    int got = read_elsewhere(client, &byte, 1, &ended);
    if (got != 0 || !ended)
        fail_msg("expected the worker to close the client %s; it did not within %d ms", when,
                 TK_PROMPT_MS);
    closesocket(client);
}

static void an_adopted_socket_is_echoed_and_closed_by_the_worker(void **state)
{
    (void)state;
    echo_worker *w = echo_worker_start();
    assert_non_null(w);

    SOCKET leaving = adopt_a_client(w);
    expect_echo(leaving, "hello, worker");
    expect_echo(leaving, "and again");
    assert_int_equal(shutdown(leaving, SD_SEND), 0);
    expect_closed_by_the_worker(leaving, "after the client closed its side");
    assert_int_equal(echo_worker_clients(w), 0);

    SOCKET idle = adopt_a_client(w);
    expect_echo(idle, "still here");
    assert_int_equal(echo_worker_clients(w), 1);
    assert_int_equal(echo_worker_bytes_echoed(w), 13 + 9 + 10);
    echo_worker_stop(w); /* cancels the idle client's receive; its routine frees it */
    expect_closed_by_the_worker(idle, "when it stopped");
}

/* Several sockets, each adopted by a thread that ends at once: the one worker thread serves
 * them all, and while they are idle it sleeps in its alertable wait. */
static void many_adopted_sockets_are_served_by_one_worker_thread_that_sleeps_between(void **state)
{
    (void)state;
    static ck_threads before, workers_threads;
    ck_list_threads(&before);
    echo_worker *w = echo_worker_start();
    assert_non_null(w);
    int count = ck_random(3, MAX_CLIENTS);
    SOCKET clients[MAX_CLIENTS];
    long long echoed = 0;
    for (int i = 0; i < count; i++) {
        char message[64];
        random_message(message);
        clients[i] = adopt_a_client_from_another_thread(w);
        expect_echo(clients[i], message);
        echoed += (long long)strlen(message);
    }
    for (int i = 0; i < count; i++) { /* all of them at once, once more */
        char message[64];
        random_message(message);
        expect_echo(clients[i], message);
        echoed += (long long)strlen(message);
    }
    assert_int_equal(echo_worker_clients(w), count);
    assert_int_equal(echo_worker_bytes_echoed(w), echoed);

    ck_threads_born_since(&before, &workers_threads);
    if (workers_threads.count != 1)
        fail_msg("expected the worker to serve its %d clients on its one thread, the one that "
                 "waits alertably; the process has %d threads more than before the worker "
                 "started",
                 count, workers_threads.count);
    ck_quiet quiet = ck_watch_quiet(&workers_threads, QUIET_MS);
    if (!ck_quiet_slept_through(&quiet))
        fail_msg("expected the worker's thread to sleep in its alertable wait while its %d "
                 "clients are idle, until a routine or an APC has work for it; in a quiet %lu "
                 "ms it used %.0f ms of CPU and woke up %ld times, %ld of them because a "
                 "wait's timeout ran out (expected: none, and at most %d wake-ups). A thread "
                 "that wakes up to look for work is polling, however long it waits between "
                 "looks: QueueUserAPC wakes an alertable wait when there is work",
                 count, (unsigned long)quiet.ms, quiet.cpu_ms, quiet.wakeups, quiet.timeouts,
                 CK_WAKEUPS_FOR_WORK_ENDING);
    print_message("measured: %d sockets adopted from %d other threads, all echoed by the "
                  "worker's one thread; idle, it used %.0f ms of CPU in %lu ms\n",
                  count, count, quiet.cpu_ms, (unsigned long)quiet.ms);

    for (int i = 0; i < count; i++) {
        assert_int_equal(shutdown(clients[i], SD_SEND), 0);
        expect_closed_by_the_worker(clients[i], "after the client closed its side");
    }
    assert_int_equal(echo_worker_clients(w), 0);
    echo_worker_stop(w);
}

int main(void)
{
    ck_seed();
    ck_watch_waits();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_adopted_socket_is_echoed_and_closed_by_the_worker),
        cmocka_unit_test(many_adopted_sockets_are_served_by_one_worker_thread_that_sleeps_between),
    };
    return CK_RUN_CHECKER("exercise 03.2", tests, tk_winsock_up, tk_winsock_down);
}
