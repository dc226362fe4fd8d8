/* Checker of exercise 01.1 (extend): the server drops clients that stay silent.
 *
 * Expects server_config to have `int idle_seconds` (0: no limit) and step01-server to take
 * --idle-seconds N. Until server_config has that field, this file does not compile.
 *
 * The limits change from run to run (the seed is printed first; TUTORIAL_SEED=N replays a
 * run): a server must use the limit it is given, whatever it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "tutorial/checkkit.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* How far from the limit a close may come: the clock starts at the server's first recv, a
 * little after our connect. A busy machine makes every timeout late, the server's and the
 * system's alike: so the checker times a bare recv with the same receive timeout, started
 * with the silent client (see timeout_beside), and the server's close may come LATE_MS after
 * that one gave up, however late it was. */
enum { EARLY_MS = 100, LATE_MS = 800 };

/* A blocking recv on a socket pair of the checker's own, with SO_RCVTIMEO set to a limit:
 * the time the system itself needs to give up after that limit, on this machine now. */
typedef struct timeout_beside {
    SOCKET client, served;
    DWORD limit_ms;
    HANDLE thread;
    ULONGLONG started, ended;
} timeout_beside;

static DWORD WINAPI wait_past_the_timeout(void *argument)
{
    timeout_beside *t = argument;
    char byte;
    recv(t->served, &byte, 1, 0); /* fails with WSAETIMEDOUT after limit_ms */
    t->ended = GetTickCount64();
    return 0;
}

static void start_timeout_beside(timeout_beside *t, int seconds)
{
    tk_socket_pair(&t->client, &t->served);
    t->limit_ms = (DWORD)seconds * 1000;
    assert_true(net_set_recv_timeout(t->served, t->limit_ms));
    t->started = GetTickCount64();
    t->thread = CreateThread(NULL, 0, wait_past_the_timeout, t, 0, NULL);
    assert_non_null(t->thread);
}

/* Takes the thread of *t out of *set: it is the checker's, not the server's. */
static void leave_out(ck_threads *set, const timeout_beside *t)
{
    DWORD id = GetThreadId(t->thread);
    for (int i = 0; i < set->count; i++) {
        if (set->ids[i] == id)
            set->ids[i--] = set->ids[--set->count];
    }
}

/* When the bare recv gave up: bounded by a minute past its limit. */
static ULONGLONG timeout_beside_ended(timeout_beside *t)
{
    tk_assert_wait(WaitForSingleObject(t->thread, t->limit_ms + 60000), WAIT_OBJECT_0);
    CloseHandle(t->thread);
    closesocket(t->client);
    closesocket(t->served);
    return t->ended;
}

/* The servers a test started, stopped by its teardown even when it failed half-way. */
static server *running[2];
static int running_count;

static server *start_server_with_idle_limit(int seconds)
{
    server_config config = {0};
    config.idle_seconds = seconds;
    server *srv = server_start(&config);
    assert_non_null(srv);
    running[running_count++] = srv;
    return srv;
}

static int stop_servers(void **state)
{
    (void)state;
    while (running_count > 0)
        server_stop(running[--running_count], NULL);
    return 0;
}

static SOCKET connect_client(unsigned short port)
{
    SOCKET s = net_connect_loopback(port);
    assert_true(s != INVALID_SOCKET);
    return s;
}

/* Waits up to timeout_ms for an end (or bytes) on s; true if something came. */
static bool readable_within(SOCKET s, DWORD timeout_ms)
{
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(s, &readable);
    struct timeval timeout = {(long)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000};
    return select(0, &readable, NULL, NULL, &timeout) == 1;
}

/* Said with every close that came before the limit: the mistake a Linux programmer makes
 * first here. */
static const char unit_hint[] =
    ". If SO_RCVTIMEO sets your limit, check its unit: on Windows it takes a DWORD of "
    "milliseconds, not a struct timeval, and a timeval of N seconds there reads as N "
    "milliseconds";

/* Waits for the server to close a client that has been silent since `since`, with a limit
 * of `seconds`, and *beside started with it; fails unless the close comes close to the
 * limit. Returns the silence, in ms. */
static ULONGLONG expect_closed_after_the_limit(SOCKET s, ULONGLONG since, int seconds,
                                               timeout_beside *beside)
{
    ULONGLONG limit_ms = (ULONGLONG)seconds * 1000;
    ULONGLONG deadline = since + limit_ms + LATE_MS;
    ULONGLONG now = GetTickCount64();
    bool ended = now < deadline && readable_within(s, (DWORD)(deadline - now));
    ULONGLONG silence = GetTickCount64() - since;
    ULONGLONG system_late = 0;
    if (!ended) { /* late: as late as the system's own timeout, on a busy machine? */
        system_late = timeout_beside_ended(beside) - beside->started - limit_ms;
        if ((LONGLONG)system_late < 0)
            system_late = 0;
        deadline += system_late;
        now = GetTickCount64();
        ended = now < deadline && readable_within(s, (DWORD)(deadline - now));
        silence = GetTickCount64() - since;
    } else {
        timeout_beside_ended(beside);
    }
    if (!ended)
        fail_msg("expected the server to close a client that sent nothing for its limit of "
                 "%d s; after %llu ms of silence the client was still connected (a recv of "
                 "the checker's own with a receive timeout of %d s, started at the same "
                 "moment, gave up %llu ms after its limit; the server is given %d ms more)",
                 seconds, (unsigned long long)silence, seconds,
                 (unsigned long long)system_late, LATE_MS);
    char byte;
    int got = recv(s, &byte, 1, 0);
    if (got != 0)
        fail_msg("expected the server to close the silent client (recv returning 0); recv "
                 "returned %d (error %d)",
                 got, WSAGetLastError());
    if (silence + EARLY_MS < limit_ms)
        fail_msg("expected the server to wait for the limit it was given (%d s) before "
                 "closing a silent client; it had closed it within %llu ms. The limit is "
                 "server_config's idle_seconds, whatever its value%s",
                 seconds, (unsigned long long)silence, unit_hint);
    return silence;
}

static void expect_its_thread_ends(server *srv)
{
    if (!server_wait_for_threads(srv, 1, TK_PROMPT_MS))
        fail_msg("expected the silent client's thread to end with its connection; the server "
                 "still runs %ld threads (1 expected: the acceptor)",
                 server_counters_now(srv).threads);
}

static void expect_asleep(const ck_quiet *quiet, const char *who)
{
    if (!ck_quiet_slept_through(quiet))
        fail_msg("expected %s to sleep in recv while the client is silent, until bytes come "
                 "or the limit passes; in a quiet %lu ms the server's threads used %.0f ms "
                 "of CPU and woke up %ld times, %ld of them because a wait's timeout ran out "
                 "(expected: no timeout before the limit, at most %d wake-ups a thread). A "
                 "thread that wakes up to look at the clock is polling, however long it "
                 "waits between looks: let a blocking call with a timeout do the waiting",
                 who, (unsigned long)quiet->ms, quiet->cpu_ms, quiet->wakeups,
                 quiet->timeouts, CK_WAKEUPS_FOR_WORK_ENDING);
}

/* The rule the exercise builds on (the hint's answer): a blocking recv that waits longer
 * than the socket's SO_RCVTIMEO gives up with SOCKET_ERROR and WSAETIMEDOUT. */
static void a_recv_that_waits_past_its_receive_timeout_fails_with_wsaetimedout(void **state)
{
    (void)state;
    SOCKET client, served;
    tk_socket_pair(&client, &served);
    DWORD timeout_ms = (DWORD)ck_random(150, 400);
    assert_true(net_set_recv_timeout(served, timeout_ms));
    ULONGLONG start = GetTickCount64();
    char byte;
    assert_int_equal(recv(served, &byte, 1, 0), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAETIMEDOUT);
    assert_true(GetTickCount64() - start + 50 >= timeout_ms);
    closesocket(client);
    closesocket(served);
}

/* Two servers with two different limits, each with one silent client. While the clients
 * are silent, the servers' threads sleep; each client is closed after its own server's
 * limit, and its thread ends. */
static void silent_clients_are_closed_after_their_own_servers_limit(void **state)
{
    (void)state;
    int short_limit = 2, long_limit = ck_random(3, 4);
    static ck_threads before, servers_threads;
    ck_list_threads(&before);
    server *quick = start_server_with_idle_limit(short_limit);
    server *patient = start_server_with_idle_limit(long_limit);
    static timeout_beside quick_beside, patient_beside;
    SOCKET quick_client = connect_client(server_port(quick));
    ULONGLONG quick_since = GetTickCount64();
    start_timeout_beside(&quick_beside, short_limit);
    SOCKET patient_client = connect_client(server_port(patient));
    ULONGLONG patient_since = GetTickCount64();
    start_timeout_beside(&patient_beside, long_limit);
    assert_true(server_wait_for_threads(quick, 2, TK_PROMPT_MS));
    assert_true(server_wait_for_threads(patient, 2, TK_PROMPT_MS));
    ck_threads_born_since(&before, &servers_threads);
    leave_out(&servers_threads, &quick_beside);
    leave_out(&servers_threads, &patient_beside);

    /* Up to 0.6 s, ending well before the shorter limit, where the quick server's timeout
     * rightly runs out. */
    LONGLONG before_limit = (LONGLONG)(quick_since + (ULONGLONG)short_limit * 1000) -
                            (LONGLONG)GetTickCount64() - 300;
    DWORD quiet_ms = before_limit < 100 ? 100 : before_limit > 600 ? 600 : (DWORD)before_limit;
    ck_quiet quiet = ck_watch_quiet(&servers_threads, quiet_ms);
    expect_asleep(&quiet, "a silent client's thread");

    ULONGLONG quick_silence =
        expect_closed_after_the_limit(quick_client, quick_since, short_limit, &quick_beside);
    expect_its_thread_ends(quick);
    ULONGLONG patient_silence =
        expect_closed_after_the_limit(patient_client, patient_since, long_limit, &patient_beside);
    expect_its_thread_ends(patient);
    print_message("measured: a silent client was closed after %llu ms with a limit of %d s, "
                  "after %llu ms with a limit of %d s; while they were silent the servers' "
                  "threads used %.0f ms of CPU in %lu ms\n",
                  (unsigned long long)quick_silence, short_limit,
                  (unsigned long long)patient_silence, long_limit, quiet.cpu_ms,
                  (unsigned long)quiet.ms);
    closesocket(quick_client);
    closesocket(patient_client);
}

/* The limit is on silence, not on the length of a visit: a client that sends something
 * every few hundred ms stays as long as it likes, well past the limit. */
static void a_client_that_keeps_talking_stays_past_the_idle_limit(void **state)
{
    (void)state;
    server *srv = start_server_with_idle_limit(1);
    SOCKET talker = connect_client(server_port(srv));
    net_set_recv_timeout(talker, TK_PROMPT_MS);
    int talked_ms = 0;
    for (int i = 0; talked_ms < 2500; i++) { /* two and a half times the limit */
        int pause_ms = ck_random(250, 550);
        Sleep((DWORD)pause_ms); /* the silence between messages IS the scenario, not a wait */
        talked_ms += pause_ms;
        char byte = (char)('a' + i % 26), echo = 0;
        if (!net_send_all(talker, &byte, 1) || recv(talker, &echo, 1, 0) != 1 || echo != byte)
            fail_msg("expected the server to keep a client that never stays silent for its "
                     "limit of 1 s (it sends a byte every 250 to 550 ms); it stopped echoing "
                     "after %d ms, at byte %d. The limit is on silence: every byte the client "
                     "sends starts it again%s%s",
                     talked_ms, i + 1,
                     i == 0 ? " (that byte ended the client's first silence, shorter than the "
                              "limit)" : "",
                     i == 0 ? unit_hint : "");
    }
    closesocket(talker);
}

static void without_a_limit_a_silent_client_stays(void **state)
{
    (void)state;
    static ck_threads before, servers_threads;
    ck_list_threads(&before);
    server *srv = start_server_with_idle_limit(0);
    SOCKET silent = connect_client(server_port(srv));
    assert_true(server_wait_for_threads(srv, 2, TK_PROMPT_MS));
    ck_threads_born_since(&before, &servers_threads);
    ck_quiet quiet = ck_watch_quiet(&servers_threads, 1500);
    if (readable_within(silent, 0))
        fail_msg("expected idle_seconds = 0 to mean no limit; the server closed a silent "
                 "client within %lu ms",
                 (unsigned long)quiet.ms);
    expect_asleep(&quiet, "a silent client's thread, with no limit,");
    closesocket(silent);
}

static void the_server_program_takes_idle_seconds_and_closes_a_silent_client(void **state)
{
    (void)state;
    static const char prefix[] = "listening on 127.0.0.1:";
    int seconds = ck_random(1, 2);
    char args[96];
    snprintf(args, sizeof args, "--port 0 --seconds %d --idle-seconds %d", seconds + 3, seconds);
    tk_process *p = tk_spawn("step01-server", args);
    char line[128];
    if (!tk_wait_for_line(p, prefix, 20000, line, sizeof line))
        fail_msg("expected step01-server %s to start listening; its stderr: %s", args,
                 tk_stderr(p));
    unsigned short port = (unsigned short)atoi(line + strlen(prefix));
    SOCKET silent = connect_client(port);
    ULONGLONG since = GetTickCount64();
    static timeout_beside beside;
    start_timeout_beside(&beside, seconds);
    ULONGLONG silence = expect_closed_after_the_limit(silent, since, seconds, &beside);
    print_message("measured: step01-server --idle-seconds %d closed a silent client after "
                  "%llu ms\n",
                  seconds, (unsigned long long)silence);
    closesocket(silent);
    int status = tk_wait_exit(p, 20000);
    if (status != 0)
        fail_msg("expected step01-server %s to exit with status 0; it exited with %d, "
                 "stderr: %s",
                 args, status, tk_stderr(p));
    tk_process_free(p);
}

int main(void)
{
    ck_seed();
    ck_watch_waits();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_recv_that_waits_past_its_receive_timeout_fails_with_wsaetimedout),
        cmocka_unit_test_teardown(silent_clients_are_closed_after_their_own_servers_limit,
                                  stop_servers),
        cmocka_unit_test_teardown(a_client_that_keeps_talking_stays_past_the_idle_limit,
                                  stop_servers),
        cmocka_unit_test_teardown(without_a_limit_a_silent_client_stays, stop_servers),
        cmocka_unit_test(the_server_program_takes_idle_seconds_and_closes_a_silent_client),
    };
    return CK_RUN_CHECKER("exercise 01.1", tests, tk_winsock_up, tk_winsock_down);
}
