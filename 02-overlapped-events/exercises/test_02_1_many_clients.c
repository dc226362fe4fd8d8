/* Checker of exercise 02.1 (extend): past 62 clients, the server spreads its clients over
 * several waiting threads, each with its own wait on at most 64 events, serves as many
 * clients as max_clients says, and refuses the next one. While its clients are idle, every
 * one of its threads sleeps in its wait. Stopping frees every client.
 *
 * The limits change from run to run (the seed is printed first; TUTORIAL_SEED=N replays a
 * run): a server must use the limit it is given, whatever it is.
 *
 * A client handed to a thread that is already waiting must wake that thread. The checker
 * does not time the echoes to see that (a busy machine makes any echo late); it makes late
 * certain instead: a wait that does not watch the listener gets a timeout of 10 s in place
 * of its own (see stretched_timeout), so a thread nobody wakes sees its new client only
 * after the echo check has given up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "tutorial/checkkit.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"

enum { MAX_TRIED = 250, MESSAGE = 100, QUIET_MS = 1500 };

/* ---- waits that nobody wakes --------------------------------------------------------
 * Step 02's loop waits 100 ms at most, so that it looks at its listener even when Wine 8
 * loses an FD_ACCEPT. A thread that learns of a new client only when such a timeout ends
 * echoes it up to 100 ms late: too little to tell apart from a busy machine. So every wait
 * of the program's code (through its imports) that does not watch the listener's FD_ACCEPT
 * event, and that has a timeout, waits STRETCHED_MS instead. A thread that is woken when a
 * client is handed to it does not notice; one that is not stays asleep past TK_PROMPT_MS,
 * and its client's echo never comes in time. Waits that watch the listener keep their
 * timeout (Wine's lost FD_ACCEPT), and a zero timeout (a look) stays a look. */
enum { STRETCHED_MS = 2 * TK_PROMPT_MS };

static WSAEVENT volatile accept_event; /* the event of the latest WSAEventSelect(FD_ACCEPT) */

typedef int(WSAAPI *event_select_function)(SOCKET, WSAEVENT, long);
typedef DWORD(WSAAPI *wsa_wait_function)(DWORD, const WSAEVENT *, BOOL, DWORD, BOOL);
typedef DWORD(WINAPI *wait_many_function)(DWORD, const HANDLE *, BOOL, DWORD);
typedef DWORD(WINAPI *wait_many_ex_function)(DWORD, const HANDLE *, BOOL, DWORD, BOOL);
static event_select_function real_event_select;
static wsa_wait_function real_wsa_wait;
static wait_many_function real_wait_many;
static wait_many_ex_function real_wait_many_ex;

static int WSAAPI noted_event_select(SOCKET s, WSAEVENT event, long network_events)
{
    if (network_events & FD_ACCEPT)
        InterlockedExchangePointer((PVOID volatile *)&accept_event, event);
    return real_event_select(s, event, network_events);
}

static DWORD stretched_timeout(DWORD count, const HANDLE *handles, DWORD timeout_ms)
{
    if (timeout_ms == 0 || timeout_ms == INFINITE)
        return timeout_ms;
    HANDLE listener = InterlockedCompareExchangePointer((PVOID volatile *)&accept_event, NULL,
                                                        NULL);
    for (DWORD i = 0; i < count; i++) {
        if (handles[i] == listener)
            return timeout_ms;
    }
    return STRETCHED_MS;
}

static DWORD WSAAPI stretched_wsa_wait(DWORD count, const WSAEVENT *events, BOOL all,
                                       DWORD timeout_ms, BOOL alertable)
{
    return real_wsa_wait(count, events, all, stretched_timeout(count, events, timeout_ms),
                         alertable);
}

static DWORD WINAPI stretched_wait_many(DWORD count, const HANDLE *handles, BOOL all,
                                        DWORD timeout_ms)
{
    return real_wait_many(count, handles, all, stretched_timeout(count, handles, timeout_ms));
}

static DWORD WINAPI stretched_wait_many_ex(DWORD count, const HANDLE *handles, BOOL all,
                                           DWORD timeout_ms, BOOL alertable)
{
    return real_wait_many_ex(count, handles, all, stretched_timeout(count, handles, timeout_ms),
                             alertable);
}

/* Through tk_function, the one cast between function types compilers accept. A function
 * the program does not import is not hooked: nothing calls it. */
static void stretch_waits_nobody_wakes(void)
{
    real_event_select =
        (event_select_function)tk_hook_import("WSAEventSelect", (tk_function)noted_event_select);
    real_wsa_wait = (wsa_wait_function)tk_hook_import("WSAWaitForMultipleEvents",
                                                      (tk_function)stretched_wsa_wait);
    real_wait_many = (wait_many_function)tk_hook_import("WaitForMultipleObjects",
                                                        (tk_function)stretched_wait_many);
    real_wait_many_ex = (wait_many_ex_function)tk_hook_import(
        "WaitForMultipleObjectsEx", (tk_function)stretched_wait_many_ex);
}

/* ---- each client's event -----------------------------------------------------------
 * The lesson is one event per operation, and one wait per 62 of them: the checker notes the
 * event of each socket's latest overlapped operation (through the imports of WSARecv and
 * WSASend) and, once the clients are idle, looks at what the server's threads wait on
 * (ck_thread_last_wait). Every client's pending receive must have an event of its own, and
 * that event must be in the wait of one of the server's threads. */
typedef int(WSAAPI *wsa_recv_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
                                       LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsa_send_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD,
                                       LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
static wsa_recv_function real_wsa_recv;
static wsa_send_function real_wsa_send;

enum { MAX_NOTED = 2048 };
typedef struct noted_operation {
    SOCKET socket;
    HANDLE event;
} noted_operation;
static noted_operation noted[MAX_NOTED];
static int noted_count;
static CRITICAL_SECTION noted_lock;

static void note_event(SOCKET s, const WSAOVERLAPPED *overlapped)
{
    if (overlapped == NULL)
        return;
    EnterCriticalSection(&noted_lock);
    int i = 0;
    while (i < noted_count && noted[i].socket != s)
        i++;
    if (i < MAX_NOTED) {
        noted[i].socket = s;
        noted[i].event = overlapped->hEvent;
        if (i == noted_count)
            noted_count++;
    }
    LeaveCriticalSection(&noted_lock);
}

static void forget_events(void)
{
    EnterCriticalSection(&noted_lock);
    noted_count = 0;
    LeaveCriticalSection(&noted_lock);
}

static int WSAAPI noted_wsa_recv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received,
                                 LPDWORD flags, LPWSAOVERLAPPED overlapped,
                                 LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    note_event(s, overlapped);
    return real_wsa_recv(s, buffers, count, received, flags, overlapped, routine);
}

static int WSAAPI noted_wsa_send(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent,
                                 DWORD flags, LPWSAOVERLAPPED overlapped,
                                 LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    note_event(s, overlapped);
    return real_wsa_send(s, buffers, count, sent, flags, overlapped, routine);
}

static void note_events(void)
{
    InitializeCriticalSection(&noted_lock);
    real_wsa_recv = (wsa_recv_function)tk_hook_import("WSARecv", (tk_function)noted_wsa_recv);
    real_wsa_send = (wsa_send_function)tk_hook_import("WSASend", (tk_function)noted_wsa_send);
}

static bool contains(const HANDLE *handles, int count, HANDLE h)
{
    for (int i = 0; i < count; i++) {
        if (handles[i] == h)
            return true;
    }
    return false;
}

/* Every handle the threads of *set wait on now, or waited on last. */
static int handles_waited_on(const ck_threads *set, HANDLE *all, int max)
{
    int count = 0;
    for (int t = 0; t < set->count; t++) {
        HANDLE mine[MAXIMUM_WAIT_OBJECTS];
        int n = ck_thread_last_wait(set->ids[t], mine, MAXIMUM_WAIT_OBJECTS, NULL);
        for (int i = 0; i < n && count < max; i++) {
            if (!contains(all, count, mine[i]))
                all[count++] = mine[i];
        }
    }
    return count;
}

static void expect_each_client_event_in_a_wait(const ck_threads *set, int max_clients)
{
    static HANDLE waited[CK_MAX_THREADS * MAXIMUM_WAIT_OBJECTS], distinct[MAX_NOTED];
    int waited_count = handles_waited_on(set, waited, CK_MAX_THREADS * MAXIMUM_WAIT_OBJECTS);
    int watched = 0, events = 0;
    EnterCriticalSection(&noted_lock);
    int operations = noted_count;
    for (int i = 0; i < noted_count; i++) {
        if (contains(waited, waited_count, noted[i].event))
            watched++;
        if (!contains(distinct, events, noted[i].event))
            distinct[events++] = noted[i].event;
    }
    LeaveCriticalSection(&noted_lock);
    if (operations != max_clients || events != max_clients || watched != max_clients)
        fail_msg("expected each of the %d idle clients' receives to have an event of its "
                 "own, and every one of those events to be in the wait of one of the "
                 "server's threads (one wait per 62 clients); the clients' latest overlapped "
                 "operations were on %d sockets, with %d different events, %d of them in a "
                 "wait of the server's %d threads (which wait on %d handles in all)",
                 max_clients, operations, events, watched, set->count, waited_count);
}

/* Sends a pattern and expects the same bytes back; does not fail the test itself. */
static bool echoed(SOCKET s, unsigned seed)
{
    unsigned char sent[MESSAGE], back[MESSAGE];
    tk_fill_pattern(sent, sizeof sent, seed);
    return net_send_all(s, sent, sizeof sent) && net_recv_all(s, back, sizeof back) &&
           memcmp(back, sent, sizeof sent) == 0;
}

static void expect_echoed(server *srv, SOCKET s, int number, int max_clients, const char *when)
{
    if (!echoed(s, (unsigned)number)) {
        server_counters now = server_counters_now(srv);
        if (now.refused > 0)
            fail_msg("expected the server to serve client %d: max_clients is %d, and every "
                     "client up to that limit is served; it refused this one as full",
                     number, max_clients);
        fail_msg("expected client %d of %d to be echoed %s; it was not within %d ms (the "
                 "server has served %ld, refused %ld as full). A thread's wait watches only "
                 "the events it was given when it began: a client given to a thread that is "
                 "already waiting must wake that thread (here a wait that does not watch the "
                 "listener has no timeout to rescue it: it lasts %d ms)",
                 number, max_clients, when, TK_PROMPT_MS, now.accepted, now.refused,
                 STRETCHED_MS);
    }
}

/* Connects max_clients clients. Each is echoed as soon as it has connected (so a client
 * handed to a thread already waiting must wake it: see stretched_timeout), then every one
 * again, all of them connected at the same time. */
static void connect_and_echo_all(server *srv, SOCKET *clients, int max_clients)
{
    for (int i = 0; i < max_clients; i++) {
        clients[i] = connect_client(srv);
        expect_echoed(srv, clients[i], i + 1, max_clients, "as soon as it connected");
    }
    for (int i = 0; i < max_clients; i++)
        expect_echoed(srv, clients[i], i + 1, max_clients, "while all of them are connected");
}

static void expect_server_full(SOCKET s, int max_clients)
{
    char reply[64] = {0};
    size_t length = strlen(SERVER_FULL_MESSAGE);
    if (!net_recv_all(s, reply, length) || strcmp(reply, SERVER_FULL_MESSAGE) != 0)
        fail_msg("expected client %d to read \"server full\": max_clients is %d, and the "
                 "limit holds over all the server's threads; it read \"%s\"",
                 max_clients + 1, max_clients, reply);
    closesocket(s);
}

static int threads_needed(int max_clients)
{
    return (max_clients + SERVER_MAX_CLIENTS - 1) / SERVER_MAX_CLIENTS;
}

/* One thread per 62 clients (the wait's 64 events less the stop and accept events), and
 * perhaps one more that only accepts. */
static void expect_one_waiting_thread_per_62_clients(const ck_threads *servers_threads,
                                                     int max_clients)
{
    int needed = threads_needed(max_clients);
    if (servers_threads->count < needed || servers_threads->count > needed + 1)
        fail_msg("expected the server to serve its %d clients on %d waiting threads (one "
                 "wait watches at most 64 events: 62 clients, the stop and the accept "
                 "events), perhaps one more to accept; it runs %d threads",
                 max_clients, needed, servers_threads->count);
}

static void expect_asleep(const ck_quiet *quiet, int clients)
{
    if (!ck_quiet_is_asleep(quiet))
        fail_msg("expected every thread of the server to sleep in its wait while its %d "
                 "clients are idle; in a quiet %lu ms its threads used %.0f ms of CPU and "
                 "made %ld short sleeps or short timed waits. A thread that looks at its "
                 "events again and again (a zero timeout, Sleep(1)) is polling: a wait with "
                 "no timeout wakes when an event is signalled",
                 clients, (unsigned long)quiet->ms, quiet->cpu_ms, quiet->naps);
}

/* configured: server_config's max_clients; 0 means 62. */
static void a_server_with_max_clients(int configured)
{
    static SOCKET clients[MAX_TRIED];
    static ck_threads before, servers_threads;
    int max_clients = configured == 0 ? SERVER_MAX_CLIENTS : configured;
    ck_list_threads(&before);
    forget_events();
    server *srv = start_server(configured);
    connect_and_echo_all(srv, clients, max_clients);
    expect_server_full(connect_client(srv), max_clients);

    server_counters now = server_counters_now(srv);
    if (now.accepted != max_clients || now.refused != 1 || now.clients != max_clients)
        fail_msg("expected the counters, summed over all the server's threads, to say %d "
                 "accepted, 1 refused, %d clients; they say %ld, %ld, %ld",
                 max_clients, max_clients, now.accepted, now.refused, now.clients);
    ck_threads_born_since(&before, &servers_threads);
    expect_one_waiting_thread_per_62_clients(&servers_threads, max_clients);
    ck_quiet quiet = ck_watch_quiet(&servers_threads, QUIET_MS);
    expect_asleep(&quiet, max_clients);
    expect_each_client_event_in_a_wait(&servers_threads, max_clients);
    print_message("measured: max_clients = %d: %d clients echoed on %d threads, the next one "
                  "refused; idle, the threads used %.0f ms of CPU in %lu ms\n",
                  configured, max_clients, servers_threads.count, quiet.cpu_ms,
                  (unsigned long)quiet.ms);

    for (int i = 0; i < max_clients; i++)
        leave(clients[i]);
    server_counters final;
    server_stop(srv, &final);
    assert_int_equal(final.clients, 0);
    assert_int_equal(final.bytes_echoed, (long long)max_clients * MESSAGE * 2);
}

static void every_client_up_to_max_clients_is_served_and_the_next_is_refused(void **state)
{
    (void)state;
    a_server_with_max_clients(ck_random(SERVER_MAX_CLIENTS + 1, 2 * SERVER_MAX_CLIENTS - 1));
    a_server_with_max_clients(ck_random(3 * SERVER_MAX_CLIENTS + 1, MAX_TRIED));
}

static void max_clients_0_still_means_62_on_one_thread(void **state)
{
    (void)state;
    a_server_with_max_clients(0);
}

static void stopping_frees_every_idle_client(void **state)
{
    (void)state;
    static SOCKET clients[MAX_TRIED];
    int max_clients = ck_random(2 * SERVER_MAX_CLIENTS + 1, MAX_TRIED);
    server *srv = start_server(max_clients);
    connect_and_echo_all(srv, clients, max_clients); /* every one has a receive pending now */
    server_counters final;
    server_stop(srv, &final);
    if (final.clients != 0)
        fail_msg("expected server_stop to free every client of every thread; %ld of %d were "
                 "left",
                 final.clients, max_clients);
    for (int i = 0; i < max_clients; i++) {
        char byte;
        if (recv(clients[i], &byte, 1, 0) > 0)
            fail_msg("expected server_stop to close every client; client %d got a byte", i + 1);
        closesocket(clients[i]);
    }
}

int main(void)
{
    ck_seed();
    ck_watch_waits();
    stretch_waits_nobody_wakes();
    note_events();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_client_up_to_max_clients_is_served_and_the_next_is_refused),
        cmocka_unit_test(max_clients_0_still_means_62_on_one_thread),
        cmocka_unit_test(stopping_frees_every_idle_client),
    };
    return CK_RUN_CHECKER("exercise 02.1", tests, tk_winsock_up, tk_winsock_down);
}
