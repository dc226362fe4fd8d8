/* Checker of exercise 04.1 (extend): with server_config.batch N (step04-server --batch N),
 * the workers dequeue up to N packets per call with GetQueuedCompletionStatusEx.
 *
 * The checker runs the server in-process and watches the port through the program's
 * imports (tutorial/import_hook.h): every GetQueuedCompletionStatus and
 * GetQueuedCompletionStatusEx call, how many entries each asked for and how many packets
 * (I/O and quit) each returned. The watched GetQueuedCompletionStatusEx waits by looking
 * every millisecond instead of sleeping in the kernel, so packets pile up between two looks
 * as they do on a busy server, and a batch can fill. The server's own counters must agree
 * with what the checker saw. Batch sizes and client counts are drawn from the run's seed.
 * Operations that fail while the server serves come from the import layer's fault plan
 * (tutorial/fault_plan.h): packets rewritten, between the port and the worker, to the
 * errors Windows gives a receive (and to orderly ends), each drawn from the run's seed.
 * Runs under the page heap. */
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "tutorial/checkkit.h"
#include "tutorial/fault_plan.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { MESSAGE = 1024, MAX_CLIENTS = 120, STOP_MS = 10000 };

/* ---- the watched port ------------------------------------------------------------------ */

typedef BOOL(WINAPI *gqcs_function)(HANDLE, LPDWORD, PULONG_PTR, LPOVERLAPPED *, DWORD);
typedef BOOL(WINAPI *gqcs_ex_function)(HANDLE, LPOVERLAPPED_ENTRY, ULONG, PULONG, DWORD, BOOL);
static gqcs_function real_gqcs;
static gqcs_ex_function real_gqcs_ex;

typedef struct watched {
    volatile LONG one_packet_calls;  /* GetQueuedCompletionStatus calls                 */
    volatile LONG batch_calls_made;  /* GetQueuedCompletionStatusEx calls begun         */
    volatile LONG batch_calls;       /* GetQueuedCompletionStatusEx calls that returned */
    volatile LONG batch_calls_with_io; /* ...with at least one I/O packet               */
    volatile LONG64 io_packets;      /* I/O packets they returned                        */
    volatile LONG largest_io;        /* the most I/O packets one call returned           */
    volatile LONG largest_asked;     /* the largest ulNumEntries asked for               */
    volatile LONG several_quits;     /* calls that returned two quit packets or more    */
} watched;

static watched seen;

static void raise_to(volatile LONG *maximum, LONG value)
{
    LONG now = *maximum;
    while (value > now) {
        LONG before = InterlockedCompareExchange(maximum, value, now);
        if (before == now)
            break;
        now = before;
    }
}

static BOOL WINAPI watching_gqcs(HANDLE port, LPDWORD bytes, PULONG_PTR key,
                                 LPOVERLAPPED *overlapped, DWORD ms)
{
    InterlockedIncrement(&seen.one_packet_calls);
    return real_gqcs(port, bytes, key, overlapped, ms);
}

static BOOL WINAPI watching_gqcs_ex(HANDLE port, LPOVERLAPPED_ENTRY entries, ULONG count,
                                    PULONG removed, DWORD ms, BOOL alertable)
{
    raise_to(&seen.largest_asked, (LONG)count);
    InterlockedIncrement(&seen.batch_calls_made);
    DWORD start = GetTickCount();
    for (;;) {
        if (real_gqcs_ex(port, entries, count, removed, 0, alertable)) {
            LONG io = 0, quits = 0;
            for (ULONG i = 0; i < *removed; i++) {
                if (entries[i].lpOverlapped != NULL)
                    io++;
                else
                    quits++;
            }
            InterlockedIncrement(&seen.batch_calls);
            if (io > 0)
                InterlockedIncrement(&seen.batch_calls_with_io);
            InterlockedExchangeAdd64(&seen.io_packets, io);
            raise_to(&seen.largest_io, io);
            if (quits >= 2)
                InterlockedIncrement(&seen.several_quits);
            return TRUE;
        }
        DWORD error = GetLastError();
        if (error != WAIT_TIMEOUT || (ms != INFINITE && GetTickCount() - start >= ms)) {
            SetLastError(error);
            return FALSE;
        }
        Sleep(1); /* look again: the packets that arrive meanwhile pile up on the port */
    }
}

static int hook_up(void **state)
{
    /* The import layer first (under the page heap it is already there): the watchers below
     * stack on its stand-ins, so they see each packet as the plan has rewritten it. */
    if (tk_faults_up(state) != 0)
        return -1;
    real_gqcs = (gqcs_function)tk_hook_import("GetQueuedCompletionStatus",
                                              (tk_function)watching_gqcs);
    /* NULL when the server never calls it: then nothing is hooked, and nothing counted. */
    real_gqcs_ex = (gqcs_ex_function)tk_hook_import("GetQueuedCompletionStatusEx",
                                                    (tk_function)watching_gqcs_ex);
    ck_seed();
    return 0;
}

/* ---- the server under load --------------------------------------------------------------- */

static server *start(int threads, int batch)
{
    memset(&seen, 0, sizeof seen);
    fault_plan_set(NULL, NULL, 0); /* no test inherits another's faults */
    server_config config = {0, threads, batch};
    server *srv = server_start(&config);
    if (srv == NULL)
        fail_msg("expected server_start to start with %d threads and batch %d; it failed",
                 threads, batch);
    return srv;
}

typedef struct stopping {
    server *srv;
    server_counters final;
} stopping;

static DWORD WINAPI run_stop(void *argument)
{
    stopping *s = argument;
    server_stop(s->srv, &s->final);
    return 0;
}

/* Stops the server, with a bound: a worker that never gets its quit packet would keep
 * server_stop waiting forever. */
static server_counters stop_within_bound(server *srv, const char *setting)
{
    static stopping s; /* static: a stop that hangs keeps using it */
    s.srv = srv;
    HANDLE thread = CreateThread(NULL, 0, run_stop, &s, 0, NULL);
    assert_non_null(thread);
    DWORD waited = WaitForSingleObject(thread, STOP_MS);
    CloseHandle(thread);
    if (waited != WAIT_OBJECT_0)
        fail_msg("expected server_stop (%s) to return within %d ms; it hangs. server_stop "
                 "posts one quit packet per worker and waits for every worker to end: rule: "
                 "every worker must get a quit packet, even when one call returned several.",
                 setting, STOP_MS);
    if (s.final.live_contexts != 0)
        fail_msg("expected no context left after server_stop (%s); %ld were", setting,
                 s.final.live_contexts);
    return s.final;
}

/* Every client sends a message, then every client reads its echo, `rounds` times: while
 * the worker handles one packet, the others pile up on the port. */
static void burst_of_echoes(unsigned short port, int clients, int rounds, SOCKET *kept)
{
    static SOCKET sockets[MAX_CLIENTS];
    static unsigned char sent[MESSAGE], back[MESSAGE];
    for (int i = 0; i < clients; i++) {
        sockets[i] = net_connect_loopback(port);
        assert_true(sockets[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(sockets[i], TK_PROMPT_MS));
    }
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < clients; i++) {
            tk_fill_pattern(sent, MESSAGE, (unsigned)(round * clients + i));
            assert_true(net_send_all(sockets[i], sent, MESSAGE));
        }
        for (int i = 0; i < clients; i++) {
            tk_fill_pattern(sent, MESSAGE, (unsigned)(round * clients + i));
            if (!net_recv_all(sockets[i], back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0)
                fail_msg("expected client %d's %d bytes echoed byte for byte in round %d; "
                         "they were not",
                         i, MESSAGE, round);
        }
    }
    for (int i = 0; i < clients; i++) {
        if (kept != NULL)
            kept[i] = sockets[i];
        else
            closesocket(sockets[i]);
    }
}

/* ---- the tests ------------------------------------------------------------------------- */

static void one_batch_size(int batch)
{
    int clients = ck_random(100, MAX_CLIENTS); /* more than twice the largest batch */
    print_message("batch %d: %d clients, 3 rounds of %d bytes, one worker\n", batch, clients,
                  MESSAGE);
    server *srv = start(1, batch);
    burst_of_echoes(server_port(srv), clients, 3, NULL);
    char setting[48];
    snprintf(setting, sizeof setting, "batch %d", batch);
    server_counters final = stop_within_bound(srv, setting);
    print_message("measured: batch %d: %ld calls of GetQueuedCompletionStatusEx returned "
                  "%lld I/O packets, at most %ld in one; %ld calls of "
                  "GetQueuedCompletionStatus\n",
                  batch, (long)seen.batch_calls, (long long)seen.io_packets,
                  (long)seen.largest_io, (long)seen.one_packet_calls);
    if (seen.one_packet_calls > 0 || seen.batch_calls == 0)
        fail_msg("expected the workers to dequeue with GetQueuedCompletionStatusEx only, "
                 "with batch %d; GetQueuedCompletionStatus was called %ld times and "
                 "GetQueuedCompletionStatusEx returned %ld times",
                 batch, (long)seen.one_packet_calls, (long)seen.batch_calls);
    if (seen.largest_asked > batch)
        fail_msg("expected no call to ask for more than %d packets (the batch); one asked "
                 "for %ld",
                 batch, (long)seen.largest_asked);
    if (seen.largest_io < batch)
        fail_msg("expected some call to return a full batch of %d packets while %d clients' "
                 "packets piled up on the port; the most one call returned was %ld",
                 batch, clients, (long)seen.largest_io);
    if (final.packets_dequeued != seen.io_packets || final.largest_batch != seen.largest_io ||
        final.dequeue_calls < seen.batch_calls_with_io ||
        final.dequeue_calls > seen.batch_calls)
        fail_msg("expected the server's counters to agree with what the port handed out: "
                 "%lld I/O packets, at most %ld in one call, in %ld to %ld calls; the server "
                 "counted %lld packets, at most %ld in one call, in %lld calls",
                 (long long)seen.io_packets, (long)seen.largest_io,
                 (long)seen.batch_calls_with_io, (long)seen.batch_calls,
                 (long long)final.packets_dequeued, final.largest_batch,
                 (long long)final.dequeue_calls);
}

static void each_call_takes_up_to_the_batch_and_the_counters_agree(void **state)
{
    (void)state;
    int sizes[] = {1, ck_random(2, 7), ck_random(8, 24), ck_random(25, 40)};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        one_batch_size(sizes[i]);
}

/* The one worker has handled `expected` I/O packets and waits in the port again: every
 * connection's next receive is posted. */
typedef struct idle_after {
    LONG64 expected;
} idle_after;

static bool worker_idle_after(void *context)
{
    const idle_after *idle = context;
    return InterlockedCompareExchange64(&seen.io_packets, 0, 0) >= idle->expected &&
           InterlockedCompareExchange(&seen.batch_calls_made, 0, 0) ==
               InterlockedCompareExchange(&seen.batch_calls, 0, 0) + 1;
}

/* Connections still open at server_stop: their receives end with an error, which
 * on_completion counts as aborted. A batch worker must give each packet its own error. */
static void each_packet_of_a_batch_keeps_its_own_error(void **state)
{
    (void)state;
    int batch = ck_random(2, 16), clients = ck_random(3, 12);
    SOCKET kept[MAX_CLIENTS];
    server *srv = start(1, batch);
    burst_of_echoes(server_port(srv), clients, 1, kept);
    /* A receive and a send per client; then the worker must be back in the port, or a
     * send's packet might still be on its way when server_stop closes the sockets. */
    idle_after idle = {2 * (LONG64)clients};
    if (!tk_wait_until(worker_idle_after, &idle, TK_PROMPT_MS))
        fail_msg("expected the worker to have handled the %lld packets of %d echoes and to "
                 "wait in GetQueuedCompletionStatusEx again within %d ms; it had %lld",
                 (long long)idle.expected, clients, TK_PROMPT_MS,
                 (long long)seen.io_packets);
    char setting[48];
    snprintf(setting, sizeof setting, "batch %d, %d clients connected", batch, clients);
    server_counters final = stop_within_bound(srv, setting);
    for (int i = 0; i < clients; i++)
        closesocket(kept[i]);
    print_message("measured: batch %d: %ld of the %d receives ended by server_stop were "
                  "counted aborted\n",
                  batch, final.aborted, clients);
    if (final.aborted != clients)
        fail_msg("expected the %d receives that server_stop ended by closing their sockets to "
                 "be counted aborted (batch %d); %ld were. A batch has no return value per "
                 "packet: rule: each packet's error comes from its own OVERLAPPED.",
                 clients, batch, final.aborted);
}

/* ---- operations that fail while the server serves ------------------------------------ */

/* What a victim's second receive packet is made to say: an error Windows can end a
 * receive with (0 bytes, as such a packet has), or an orderly end (success, 0 bytes). The
 * chapter's was_aborted counts the first two as ended by the server's own close or
 * cancel; the others, while the server is not stopping, as the connection's end. (Not
 * ERROR_HANDLES_CLOSED: Wine 8's RtlNtStatusToDosError turns its status into 1784.) */
typedef struct packet_end {
    const char *outcome; /* the plan's outcome */
    bool aborted;        /* was_aborted's verdict while the server serves */
} packet_end;

static const packet_end aborted_ends[] = {
    {"error:ERROR_OPERATION_ABORTED", true},  /* 995: a CancelIoEx                     */
    {"error:ERROR_CONNECTION_ABORTED", true}, /* 1236: Windows' answer to a close       */
};
static const packet_end other_ends[] = {
    {"error:ERROR_NETNAME_DELETED", false}, /* 64: the peer's reset, as IOCP reports it */
    {"error:WSAECONNRESET", false},         /* 10054                                     */
    {"error:ERROR_UNEXP_NET_ERR", false},   /* 59                                        */
    {"eof", false},                         /* the client's orderly end                  */
};

enum { MAX_VICTIMS = 7, SMALL = 64 };

typedef struct served_counts {
    server *srv;
    long accepted, closed;
} served_counts;

static bool closed_reached(void *context)
{
    served_counts *want = context;
    server_counters c;
    server_read_counters(want->srv, &c);
    return c.closed >= want->closed;
}

static bool receives_reached(void *context)
{
    return fault_plan_calls("receive") >= *(const long *)context;
}

/* The server has closed s: recv ends with an orderly end or a reset, not the timeout. */
static bool ends_without_timeout(SOCKET s)
{
    char sink[256];
    int got;
    while ((got = recv(s, sink, sizeof sink, 0)) > 0)
        continue;
    return got == 0 || WSAGetLastError() != WSAETIMEDOUT;
}

static void echo_small(SOCKET s, unsigned seed, const char *who)
{
    unsigned char sent[SMALL], back[SMALL];
    tk_fill_pattern(sent, SMALL, seed);
    if (!net_send_all(s, sent, SMALL) || !net_recv_all(s, back, SMALL) ||
        memcmp(back, sent, SMALL) != 0)
        fail_msg("expected %s's %d bytes echoed byte for byte; they were not", who, SMALL);
}

static void set_plan(const char *plan)
{
    char why[200] = "";
    if (!fault_plan_set(plan, why, sizeof why))
        fail_msg("the checker's own fault plan was refused: %s (%s)", plan, why);
}

/* Victims, each its own connection (@M, in the order of their first receive): the second
 * receive packet of each is rewritten to an error or an orderly end, drawn from both kinds,
 * while other clients are served and their packets share the victims' batches. The server
 * must end each victim's connection, serve the others byte for byte, and count aborted
 * exactly the packets whose own error says so: the byte count (0 in every one of them) says
 * nothing about it. */
static void each_failed_packet_keeps_its_own_error_while_serving(void **state)
{
    (void)state;
    int batch = ck_random(2, 16), victims = ck_random(4, MAX_VICTIMS);
    int others = ck_random(10, 30);
    const packet_end *ends[MAX_VICTIMS];
    ends[0] = &aborted_ends[ck_random(0, 1)];
    ends[1] = &other_ends[ck_random(0, 2)];
    ends[2] = &other_ends[3]; /* an orderly end */
    for (int i = 3; i < victims; i++) {
        int pick = ck_random(0, 5);
        ends[i] = pick < 2 ? &aborted_ends[pick] : &other_ends[pick - 2];
    }
    for (int i = victims - 1; i > 0; i--) { /* in an order drawn from the seed */
        int j = ck_random(0, i);
        const packet_end *swap = ends[i];
        ends[i] = ends[j];
        ends[j] = swap;
    }
    char plan[512] = "", described[512] = "";
    long expected_aborted = 0;
    for (int i = 0; i < victims; i++) {
        char rule[80];
        snprintf(rule, sizeof rule, "%sreceive-done@%d#2=%s", i > 0 ? "," : "", i + 1,
                 ends[i]->outcome);
        strcat(plan, rule);
        snprintf(rule, sizeof rule, "%s%s", i > 0 ? ", " : "", ends[i]->outcome);
        strcat(described, rule);
        expected_aborted += ends[i]->aborted;
    }
    print_message("batch %d, one worker: %d victims (%s), %d clients served beside them\n",
                  batch, victims, plan, others);

    server *srv = start(1, batch);
    set_plan(plan);
    SOCKET victim[MAX_VICTIMS], other[MAX_CLIENTS];
    for (int i = 0; i < victims; i++) {
        victim[i] = net_connect_loopback(server_port(srv));
        assert_true(victim[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(victim[i], TK_PROMPT_MS));
        long receives = i + 1; /* its first receive is posted: it is connection i + 1 */
        if (!tk_wait_until(receives_reached, &receives, TK_PROMPT_MS))
            fail_msg("expected the server to post a receive for client %d within %d ms; "
                     "%ld receives were posted",
                     i + 1, TK_PROMPT_MS, fault_plan_calls("receive"));
    }
    for (int i = 0; i < others; i++) {
        other[i] = net_connect_loopback(server_port(srv));
        assert_true(other[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(other[i], TK_PROMPT_MS));
    }
    for (int i = 0; i < victims; i++)
        echo_small(victim[i], (unsigned)i, "a client before its failed receive");

    /* The victims' second receives and the other clients' bytes, all at once. */
    static unsigned char sent[MESSAGE], back[MESSAGE];
    for (int i = 0; i < victims; i++) {
        tk_fill_pattern(sent, SMALL, 1000u + (unsigned)i);
        send(victim[i], (const char *)sent, SMALL, 0); /* may fail: the server may close */
    }
    for (int i = 0; i < others; i++) {
        tk_fill_pattern(sent, MESSAGE, 2000u + (unsigned)i);
        assert_true(net_send_all(other[i], sent, MESSAGE));
    }
    for (int i = 0; i < others; i++) {
        tk_fill_pattern(sent, MESSAGE, 2000u + (unsigned)i);
        if (!net_recv_all(other[i], back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0)
            fail_msg("expected client %d's %d bytes echoed byte for byte while %d other "
                     "connections failed (batch %d); they were not",
                     i, MESSAGE, victims, batch);
    }
    for (int i = 0; i < victims; i++) {
        if (!ends_without_timeout(victim[i]))
            fail_msg("expected the server to close the connection whose second receive "
                     "packet said %s (batch %d); it was still open after %d ms",
                     ends[i]->outcome, batch, TK_PROMPT_MS);
        closesocket(victim[i]);
    }
    served_counts ended = {srv, 0, victims};
    if (!tk_wait_until(closed_reached, &ended, TK_PROMPT_MS))
        fail_msg("expected the server to have closed the %d connections whose receives "
                 "failed or ended within %d ms",
                 victims, TK_PROMPT_MS);
    /* The other clients end too, in order, while the server still serves. */
    for (int i = 0; i < others; i++)
        closesocket(other[i]);
    ended.closed = victims + others;
    if (!tk_wait_until(closed_reached, &ended, TK_PROMPT_MS))
        fail_msg("expected the server to close the %d connections whose clients closed "
                 "theirs within %d ms",
                 others, TK_PROMPT_MS);
    server_counters before_stop;
    server_read_counters(srv, &before_stop);
    long fired = fault_plan_fired("receive-done");
    set_plan(NULL);
    stop_within_bound(srv, "after failed operations");
    print_message("measured: batch %d: %ld of %d rewritten packets handed out; %ld "
                  "operations counted aborted while serving (%s, then %d orderly ends)\n",
                  batch, fired, victims, before_stop.aborted, described, others);
    if (fired != victims)
        fail_msg("expected the fault plan to rewrite %d receive packets (one per victim); it "
                 "rewrote %ld",
                 victims, fired);
    if (before_stop.aborted != expected_aborted)
        fail_msg("expected %ld operations counted aborted before server_stop: the victims' "
                 "packets said %s, then %d clients closed theirs in order, and was_aborted "
                 "counts only 995 and 1236 of those while the server is not stopping; the server "
                 "counted %ld (batch %d). Every one of those packets had 0 bytes, so only its "
                 "own error tells them apart. Rule: each packet's error comes from its own "
                 "OVERLAPPED, the error GetQueuedCompletionStatus would have given.",
                 expected_aborted, described, others, before_stop.aborted, batch);
}

static void every_worker_gets_its_quit_packet(void **state)
{
    (void)state;
    long several = 0;
    for (int run = 1; run <= 6 && (run <= 3 || several == 0); run++) {
        int threads = ck_random(2, 6), batch = ck_random(4, 16);
        server *srv = start(threads, batch);
        burst_of_echoes(server_port(srv), ck_random(2, 8), 1, NULL);
        char setting[64];
        snprintf(setting, sizeof setting, "%d workers, batch %d", threads, batch);
        stop_within_bound(srv, setting);
        several += seen.several_quits;
    }
    print_message("measured: %ld calls returned two quit packets or more\n", several);
    if (several == 0)
        fail_msg("expected some call of GetQueuedCompletionStatusEx to return two quit "
                 "packets or more at server_stop (several workers, batches of 4 or more); "
                 "none did in 6 runs: do the workers dequeue quit packets in batches?");
}

static void without_a_batch_the_workers_take_one_packet_per_call(void **state)
{
    (void)state;
    server *srv = start(ck_random(1, 3), 0);
    burst_of_echoes(server_port(srv), ck_random(5, 20), 2, NULL);
    stop_within_bound(srv, "batch 0");
    if (seen.batch_calls > 0 || seen.one_packet_calls == 0)
        fail_msg("expected batch 0 to keep the chapter's run_worker: "
                 "GetQueuedCompletionStatus only. GetQueuedCompletionStatusEx returned %ld "
                 "times, GetQueuedCompletionStatus was called %ld times",
                 (long)seen.batch_calls, (long)seen.one_packet_calls);
}

static void the_program_takes_batch_from_1_to_64(void **state)
{
    (void)state;
    const char *refused[] = {"--port 0 --batch 0", "--port 0 --batch 65"};
    for (int i = 0; i < 2; i++) {
        tk_process *p = tk_spawn("step04-server", refused[i]);
        int status = tk_wait_exit(p, 20000);
        if (status != 2 || strstr(tk_stderr(p), "--batch") == NULL)
            fail_msg("expected step04-server %s to be refused as a usage error (status 2, "
                     "naming --batch); it exited with %d", refused[i], status);
        tk_process_free(p);
    }
    char args[64];
    snprintf(args, sizeof args, "--port 0 --seconds 1 --threads 2 --batch %d",
             ck_random(1, 64));
    tk_process *p;
    tk_start_server(&p, "step04-server", args);
    if (tk_wait_exit(p, 20000) != 0 || strstr(tk_stdout(p), "dequeued ") == NULL)
        fail_msg("expected step04-server %s to run, stop with status 0 and print its "
                 "\"dequeued ...\" line; it said:\n%s", args, tk_stdout(p));
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_call_takes_up_to_the_batch_and_the_counters_agree),
        cmocka_unit_test(each_packet_of_a_batch_keeps_its_own_error),
        cmocka_unit_test(each_failed_packet_keeps_its_own_error_while_serving),
        cmocka_unit_test(every_worker_gets_its_quit_packet),
        cmocka_unit_test(without_a_batch_the_workers_take_one_packet_per_call),
        cmocka_unit_test(the_program_takes_batch_from_1_to_64),
    };
    return CK_RUN_CHECKER("exercise 04.1", tests, hook_up, tk_winsock_down);
}
