/* The whole server, in this process on a free port, under real traffic: a storm of
 * connections that end with a reset (the monitoring probe of the incident, sped up),
 * framed clients, garbage, HTTP, and clients that hold a connection (idle, never reading,
 * trickling a frame a byte at a time). The same file runs in 06 and 07. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "reset_storm.h"
#include "support.h"
#include "tutorial/fault_plan.h"
#include "tutorial/faults.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* The import layer installed, with Windows' reset semantics as the servers have them. */
static int up(void **state)
{
    faults_set_windows_resets(true);
    return tk_faults_up(state);
}

/* A blocking client connection that has read the server's greeting. */
static SOCKET greeted_client(unsigned short port)
{
    SOCKET s = net_connect_loopback(port);
    assert_true(s != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
    assert_true(net_read_greeting(s));
    return s;
}

static server *start(int idle_ms, unsigned long max_frame)
{
    server_config config = {0, 2, 8, max_frame, idle_ms};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

static long run_storm(unsigned short port, long count, int parallel, int rate)
{
    storm_config config = {0};
    config.host.s_addr = htonl(INADDR_LOOPBACK);
    config.port = port;
    config.count = count;
    config.parallel = parallel;
    config.rate = rate;
    storm_result result;
    reset_storm_run(&config, &result);
    assert_int_equal(result.failed, 0);
    print_message("storm: %ld connections reset in %.2f s\n", result.reset, result.seconds);
    return result.reset;
}

static void a_storm_of_1000_resets_leaks_in_06_and_not_in_07(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    /* One at a time, 2000 a second: the server keeps up, so most resets arrive after the
     * accept, around the first receive, as the monitoring probe's did (measured under Wine:
     * faster storms mostly reset connections still in the backlog). */
    long resets = run_storm(server_port(srv), 1000, 1, 2000);
    wait_until_ended(srv, resets, 20000); /* the counters are checked after */
    server_counters c;
    server_stop(srv, &c);
    long leaked = totals().contexts - before.contexts;
    print_message("accepted=%ld failed_accepts=%ld immediate_failures=%ld leaked contexts=%ld\n",
                  c.accepted, c.failed_accepts, c.immediate_failures, leaked);
    assert_int_equal(c.accepted + c.failed_accepts, resets);
#if LEAK_FIXED
    assert_int_equal(leaked, 0);
#else
    assert_true(leaked >= 1);
    assert_int_equal(leaked, c.immediate_failures); /* one leaked context per failure */
#endif
}

/* The incident as it happened, sped up from one probe every 5 s to one every 100 ms or so:
 * a probe connects and resets at once, and the server's first operations on the socket meet
 * the reset: its greeting (a send) or the receive after it fails at once with
 * WSAECONNRESET, and step 06 leaks one context per probe. Where the reset lands is up to
 * the timing of this process's own probe, so the plan widens the moment between the
 * greeting and the first receive from outside ("receive#*=delay:100", the import layer),
 * and the next probe comes when this one has ended. Under Wine this needs Windows' reset
 * semantics (on, as in the servers); the next test turns them off. Probes from outside the
 * project need no rule: demo.native_probes_leak_in_06_and_not_in_07 runs them against the
 * real programs. */
static long run_paced_probe(server *srv, int probes)
{
    for (int i = 0; i < probes; i++) {
        SOCKET probe = net_connect_loopback(server_port(srv));
        assert_true(probe != INVALID_SOCKET);
        net_hard_reset(probe);
        assert_true(wait_until_ended(srv, i + 1, TK_PROMPT_MS)); /* then the next probe */
    }
    return probes;
}

static void a_paced_probe_leaks_one_context_per_probe_in_06_and_none_in_07(void **state)
{
    (void)state;
    set_plan("receive#*=delay:100");
    registry_totals before = totals();
    server *srv = start(0, 4096);
    long probes = run_paced_probe(srv, 20);
    server_counters c;
    server_stop(srv, &c);
    set_plan(NULL);
    long leaked = totals().contexts - before.contexts;
    print_message("probes=%ld immediate_failures=%ld leaked contexts=%ld\n", probes,
                  c.immediate_failures, leaked);
    assert_int_equal(c.immediate_failures, probes); /* every receive came after the reset */
#if LEAK_FIXED
    assert_int_equal(leaked, 0);
#else
    assert_int_equal(leaked, probes);
#endif
}

/* The same probe with Wine's own reset behaviour (the servers' --wine-resets). Wine 8
 * fails the receive with WSAECONNRESET only while its server has not yet looked at the
 * socket since the reset came; once it has (a poll, a select, an earlier receive), the
 * receive reads 0 bytes, an orderly end, and leaks nothing even in 06. Which of the two a
 * probe gets is up to Wine's timing, so this asserts the accounting, not a count: every
 * probe ends one of the two ways, and only the immediate failures leak. On Windows the
 * flag changes nothing: every probe fails at once. */
static void with_wine_resets_only_the_immediate_failures_leak(void **state)
{
    (void)state;
    set_plan("receive#*=delay:100");
    faults_set_windows_resets(false);
    registry_totals before = totals();
    server *srv = start(0, 4096);
    long probes = run_paced_probe(srv, 10);
    server_counters c;
    server_stop(srv, &c);
    faults_set_windows_resets(true);
    set_plan(NULL);
    long leaked = totals().contexts - before.contexts;
    print_message("probes=%ld orderly ends=%ld immediate_failures=%ld leaked=%ld\n", probes,
                  c.closed, c.immediate_failures, leaked);
    assert_int_equal(c.immediate_failures + c.closed, probes);
    if (!tk_under_wine())
        assert_int_equal(c.immediate_failures, probes);
    assert_int_equal(leaked, LEAK_FIXED ? 0 : c.immediate_failures);
}

static void frames_of_every_size_come_back_byte_exact(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    static const size_t sizes[] = {0, 1, 3, 4, 5, 1000, 4096};
    unsigned char payload[4096];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tk_fill_pattern(payload, sizes[i], (unsigned)i);
        client_buffer reply;
        assert_true(client_exchange_frame(server_port(srv), payload, sizes[i], TK_PROMPT_MS, &reply));
        assert_int_equal(reply.length, sizes[i]);
        assert_memory_equal(reply.data, payload, sizes[i]);
        client_buffer_free(&reply);
    }
    assert_int_equal(counters_of(srv).frames, 7);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* Sends bytes that are not our protocol and waits for the server to close. */
static void send_and_expect_close(unsigned short port, const char *bytes, size_t length)
{
    SOCKET s = greeted_client(port);
    assert_true(net_send_all(s, bytes, length));
    tk_wait_readable(s, TK_PROMPT_MS);
    char reply[16];
    assert_true(recv(s, reply, sizeof reply, 0) <= 0); /* no answer, just the end */
    closesocket(s);
}

/* ---- taking frames out of what arrives ------------------------------------------------ */

/* Frames one after another, as a client may send them in one go. */
typedef struct burst {
    unsigned char bytes[16384];
    size_t length;
    long frames;
} burst;

/* A frame with this payload size at the end of b; the payload is a pattern of its own. */
static void add_frame(burst *b, size_t payload)
{
    assert_true(b->length + 4 + payload <= sizeof b->bytes);
    net_put_frame_length(b->bytes + b->length, (unsigned long)payload);
    tk_fill_pattern(b->bytes + b->length + 4, payload, (unsigned)(b->frames * 31 + payload));
    b->length += 4 + payload;
    b->frames++;
}

static void burst_of(burst *b, const size_t *payloads, size_t count)
{
    b->length = 0;
    b->frames = 0;
    for (size_t i = 0; i < count; i++)
        add_frame(b, payloads[i]);
}

/* One connection sends the whole burst in one send and reads back as many bytes: an echo
 * answers each frame with the frame itself, in order, so the reply must be the burst. Then
 * it closes and waits until the server has seen the end. Returns how many receives the
 * server started for the connection (the last one is the one that read the end): the
 * caller sets the plan (and with it the counts) just before. */
static long serve_burst(server *srv, const burst *b)
{
    static unsigned char reply[sizeof b->bytes];
    long ended = counters_of(srv).closed + counters_of(srv).resets;
    long frames = counters_of(srv).frames;
    SOCKET s = greeted_client(server_port(srv));
    assert_true(net_send_all(s, b->bytes, b->length));
    assert_true(net_recv_all(s, reply, b->length));
    assert_memory_equal(reply, b->bytes, b->length);
    closesocket(s);
    assert_true(wait_until_ended(srv, ended + 1, TK_PROMPT_MS));
    assert_int_equal(counters_of(srv).frames - frames, b->frames);
    return fault_plan_calls("receive");
}

/* What a cap of at_most bytes per receive costs at least: every byte of the burst, then the
 * receive that reads the end. */
static long receives_at_least(const burst *b, DWORD at_most)
{
    return (long)((b->length + at_most - 1) / at_most) + 1;
}

static void a_header_split_across_receives_is_put_back_together(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    static const size_t payloads[] = {0, 1, 5, 3};
    burst b;
    burst_of(&b, payloads, 4);
    for (DWORD at_most = 1; at_most < 4; at_most++) { /* each header in 2 to 4 pieces */
        plan_with_receives_cut(NULL, at_most);
        assert_true(serve_burst(srv, &b) >= receives_at_least(&b, at_most));
    }
    set_plan(NULL);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

static void a_payload_split_across_receives_is_put_back_together(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    static const size_t payloads[] = {1000, 4096, 7};
    burst b;
    burst_of(&b, payloads, 3);
    plan_with_receives_cut(NULL, 100); /* the 4,096-byte payload in 41 receives or more */
    assert_true(serve_burst(srv, &b) >= receives_at_least(&b, 100));
    set_plan(NULL);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* Cuts at every place a cap from 1 to 13 bytes makes: frames end inside a receive and the
 * next one starts there, so its first bytes wait at the front of the buffer. */
static void frames_cut_anywhere_come_back_byte_exact(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    static const size_t payloads[] = {0, 1, 3, 4, 5, 17, 300, 2};
    burst b;
    burst_of(&b, payloads, 8);
    for (DWORD at_most = 1; at_most <= 13; at_most++) {
        plan_with_receives_cut(NULL, at_most);
        assert_true(serve_burst(srv, &b) >= receives_at_least(&b, at_most));
    }
    set_plan(NULL);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* Five frames that have all arrived before the receive starts: one receive takes them, and
 * one send answers all five. */
static void several_frames_in_one_receive_are_answered_by_one_send(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    static const size_t payloads[] = {5, 0, 300, 1, 4};
    burst b;
    burst_of(&b, payloads, 5);
    set_plan(NULL); /* the counts from 0 */
    next_receive_waits_for((DWORD)b.length);
    assert_int_equal(serve_burst(srv, &b), 2); /* all five frames, then the end */
    assert_int_equal(fault_plan_calls("send"), 2); /* the greeting, then one for all five */
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* The buffer holds the longest frame and its header (4 + 4,096 bytes). A 10-byte frame, then
 * one of 4,096, all arrived: the first receive fills the buffer (the small frame and most of
 * the big one), the start of the big frame moves to the front, and the second receive asks
 * for exactly the 14 bytes that are missing, which fill the buffer to its last byte. */
static void a_frame_exactly_filling_the_buffer_is_answered(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    static const size_t payloads[] = {10, 4096};
    burst b;
    burst_of(&b, payloads, 2);
    set_plan(NULL); /* the counts from 0 */
    next_receive_waits_for((DWORD)b.length);
    assert_int_equal(serve_burst(srv, &b), 3); /* 4,100 bytes, 14 bytes, the end */
    assert_int_equal(fault_plan_calls("send"), 3); /* the greeting, then one per frame */
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* --max-frame 100: a length of 100 is served, 101 is refused (the connection is closed,
 * nothing answered), also when its header comes in pieces, and also after a whole frame
 * that arrived with it: a peer that sends such a length does not speak our protocol. */
static void a_length_over_max_frame_is_refused(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 100);
    unsigned short port = server_port(srv);
    burst b;
    b.length = 0, b.frames = 0;
    add_frame(&b, 100);
    serve_burst(srv, &b);

    unsigned char too_long[4 + 101] = {0};
    net_put_frame_length(too_long, 101);
    send_and_expect_close(port, (const char *)too_long, sizeof too_long);
    plan_with_receives_cut(NULL, 1);
    send_and_expect_close(port, (const char *)too_long, 4);
    set_plan(NULL);
    b.length = 0, b.frames = 0;
    add_frame(&b, 5);
    memcpy(b.bytes + b.length, too_long, 4);
    next_receive_waits_for((DWORD)b.length + 4);
    send_and_expect_close(port, (const char *)b.bytes, b.length + 4);

    server_counters c = counters_of(srv);
    assert_int_equal(c.oversized, 3);
    assert_int_equal(c.frames, 1);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* The working path: dispose meets a receive the kernel holds, CancelIoEx aborts it, the
 * aborted completion frees the context. Nothing leaks, in 06 as in 07. */
static void an_idle_connection_is_closed_and_its_aborted_receive_freed(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(200, 4096);
    SOCKET idle = greeted_client(server_port(srv));
    tk_wait_readable(idle, TK_PROMPT_MS); /* the server closes it: an end to read */
    char byte;
    assert_true(recv(idle, &byte, 1, 0) <= 0);
    closesocket(idle);
    assert_int_equal(counters_of(srv).idle_timeouts, 1);
    server_stop(srv, NULL);
    registry_totals after = totals();
    assert_int_equal(after.contexts, before.contexts);
    assert_int_equal(after.sockets, before.sockets);
}

/* A connection that keeps talking is never idle, however short the timeout and however
 * often the sweeper looks: each client below exchanges frames on one connection without a
 * pause, for many sweeps of a 300 ms timeout. */
typedef struct busy_client {
    unsigned short port;
    DWORD for_ms;
    long frames;
    bool broken;
} busy_client;

static DWORD WINAPI talk_without_pause(void *argument)
{
    busy_client *b = argument;
    SOCKET s = net_connect_loopback(b->port);
    unsigned char frame[4 + 64], reply[sizeof frame];
    net_put_frame_length(frame, 64);
    tk_fill_pattern(frame + 4, 64, 7);
    ULONGLONG until = GetTickCount64() + b->for_ms;
    b->broken = s == INVALID_SOCKET || !net_set_recv_timeout(s, TK_PROMPT_MS) ||
                !net_read_greeting(s);
    while (!b->broken && GetTickCount64() < until) {
        b->broken = !net_send_all(s, frame, sizeof frame) ||
                    !net_recv_all(s, reply, sizeof reply) ||
                    memcmp(reply, frame, sizeof frame) != 0;
        b->frames += !b->broken;
    }
    if (s != INVALID_SOCKET)
        closesocket(s);
    return 0;
}

static void a_connection_that_keeps_talking_is_never_closed_as_idle(void **state)
{
    (void)state;
    /* Talk three times as long as the deadline, which is long enough that no scheduling
     * delay of a loaded machine between one client's frames reaches it (300 ms did, once,
     * with other test runs beside two busy loops). */
    enum { CLIENTS = 8, IDLE_MS = 1500, TALK_MS = 4500 };
    server *srv = start(IDLE_MS, 4096); /* the sweeper looks every 376 ms */
    busy_client clients[CLIENTS];
    HANDLE threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (busy_client){server_port(srv), TALK_MS, 0, false};
        threads[i] = CreateThread(NULL, 0, talk_without_pause, &clients[i], 0, NULL);
        assert_non_null(threads[i]);
    }
    tk_assert_wait(WaitForMultipleObjects(CLIENTS, threads, TRUE, TALK_MS + 2 * TK_PROMPT_MS),
                   WAIT_OBJECT_0);
    for (int i = 0; i < CLIENTS; i++) {
        CloseHandle(threads[i]);
        assert_false(clients[i].broken); /* closed under it, or answered wrong */
        assert_true(clients[i].frames > 0);
    }
    assert_int_equal(counters_of(srv).idle_timeouts, 0);
    server_stop(srv, NULL);
}

static void garbage_http_and_idle_clients_are_survived_and_counted(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(300, 1024);
    unsigned short port = server_port(srv);
    send_and_expect_close(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27); /* "GET " = 1.2 GB */
    send_and_expect_close(port, "\xff\xff\xff\xff garbage", 12);
    SOCKET idle = greeted_client(port);
    tk_wait_readable(idle, TK_PROMPT_MS); /* the idle timeout's end */
    closesocket(idle);

    client_buffer reply; /* and it still serves */
    assert_true(client_exchange_frame(port, "still here", 10, TK_PROMPT_MS, &reply));
    assert_string_equal((char *)reply.data, "still here");
    client_buffer_free(&reply);
    server_counters c = counters_of(srv);
    assert_int_equal(c.oversized, 2);
    assert_int_equal(c.idle_timeouts, 1);
    assert_int_equal(c.frames, 1);
    server_stop(srv, NULL);
    long leaked = totals().contexts - before.contexts;
    print_message("leaked contexts: %ld\n", leaked);
#if LEAK_FIXED
    assert_int_equal(leaked, 0);
#endif
}

/* ---- clients that hold a connection --------------------------------------------------- */

typedef struct counter_wait {
    server *srv;
    const long *counter; /* a field of the counters below, read through the server */
    server_counters now;
} counter_wait;

static bool stalled_send_closed(void *argument)
{
    counter_wait *w = argument;
    w->now = counters_of(w->srv);
    return w->now.stalled_sends > 0;
}

static bool slow_frame_closed(void *argument)
{
    counter_wait *w = argument;
    w->now = counters_of(w->srv);
    return w->now.slow_frames > 0;
}

/* A client that sends frames and never reads their echoes: once the kernel's buffers both
 * ways are full, the server's send waits, and no receive is posted meanwhile, so the
 * receive deadline never looks at it; the send deadline closes it, within twice --idle-ms
 * of the moment the client can send no more. */
static void a_client_that_sends_and_never_reads_is_closed_within_twice_the_idle_time(void **state)
{
    (void)state;
    enum { IDLE_MS = 3000 };
    registry_totals before = totals();
    server *srv = start(IDLE_MS, 4096);
    SOCKET s = greeted_client(server_port(srv));
    u_long non_blocking = 1;
    assert_int_equal(ioctlsocket(s, FIONBIO, &non_blocking), 0);
    unsigned char frame[4 + 4096];
    net_put_frame_length(frame, 4096);
    tk_fill_pattern(frame + 4, 4096, 5);
    long sent = 0;
    while (sent < 100000) { /* until the buffers are full both ways */
        if (send(s, (const char *)frame, sizeof frame, 0) != SOCKET_ERROR) {
            sent++;
            continue;
        }
        assert_int_equal(WSAGetLastError(), WSAEWOULDBLOCK);
        fd_set writable;
        FD_ZERO(&writable);
        FD_SET(s, &writable);
        struct timeval moment = {0, 100000};
        if (select(0, NULL, &writable, NULL, &moment) == 0)
            break; /* no room for 100 ms: the server no longer takes what we send */
    }
    ULONGLONG full = GetTickCount64();
    counter_wait w = {srv, NULL, {0}};
    assert_true(tk_wait_until(stalled_send_closed, &w, IDLE_MS + TK_PROMPT_MS));
    ULONGLONG took = GetTickCount64() - full;
    print_message("%ld frames sent, then nothing for %llu ms: closed as a stalled send\n", sent,
                  took);
    /* The send waited --idle-ms, and the sweep that saw it runs every quarter of that: at
     * most 1.25 x --idle-ms after the client filled the buffers on an idle machine. A
     * deadline of seconds leaves a busy machine's scheduling delays (0.8 s seen beside two
     * busy loops) well inside twice. */
    assert_true(took <= 2 * IDLE_MS);
    assert_int_equal(w.now.stalled_sends, 1);
    assert_int_equal(w.now.idle_timeouts, 0);
    closesocket(s);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

/* A client that trickles one byte of a frame every 100 ms: each receive completes long
 * before the receive deadline, yet the frame is never whole. The frame deadline closes
 * it, --idle-ms after its first byte. */
static void a_one_byte_trickle_is_closed_by_the_frame_deadline(void **state)
{
    (void)state;
    enum { IDLE_MS = 600, STEP_MS = 100 };
    registry_totals before = totals();
    server *srv = start(IDLE_MS, 4096);
    SOCKET s = greeted_client(server_port(srv));
    unsigned char frame[4 + 100];
    net_put_frame_length(frame, 100);
    tk_fill_pattern(frame + 4, 100, 9);
    counter_wait w = {srv, NULL, {0}};
    size_t at = 0;
    ULONGLONG first = GetTickCount64();
    while (at < sizeof frame && !slow_frame_closed(&w)) {
        if (send(s, (const char *)frame + at++, 1, 0) != 1)
            break; /* the server closed it */
        Sleep(STEP_MS); /* the client's pace, not a synchronisation */
    }
    assert_true(tk_wait_until(slow_frame_closed, &w, TK_PROMPT_MS));
    print_message("%lu bytes trickled over %llu ms: closed as a slow frame\n", (unsigned long)at,
                  GetTickCount64() - first);
    assert_true(at < sizeof frame); /* it was closed before the frame was whole */
    assert_int_equal(w.now.slow_frames, 1);
    assert_int_equal(w.now.idle_timeouts, 0);
    assert_int_equal(w.now.frames, 0);
    closesocket(s);
    server_stop(srv, NULL);
    assert_int_equal(totals().contexts, before.contexts);
}

#if LEAK_FIXED
/* Clients that talk frames while the storm goes on: every reply must be their own. An
 * exchange may find no room at all (its connect refused or its greeting late while the
 * backlog is full of the storm's resets, more so on a loaded machine): that is counted
 * apart, as unanswered. A reply that is not the frame sent is the fault. */
typedef struct talker {
    unsigned short port;
    volatile LONG *storm_done;
    unsigned seed;
    long frames, wrong, unanswered;
} talker;

static DWORD WINAPI talk_until_storm_ends(void *argument)
{
    talker *t = argument;
    unsigned char payload[512];
    while (!InterlockedCompareExchange(t->storm_done, 0, 0)) {
        size_t length = 1 + (t->seed++ % sizeof payload);
        tk_fill_pattern(payload, length, t->seed);
        client_buffer reply;
        bool ok = client_exchange_frame(t->port, payload, length, TK_PROMPT_MS, &reply);
        if (!ok)
            t->unanswered++;
        else if (reply.length == length && memcmp(reply.data, payload, length) == 0)
            t->frames++;
        else
            t->wrong++;
        client_buffer_free(&reply);
    }
    return 0;
}

static void twenty_thousand_resets_beside_framed_clients_leak_nothing(void **state)
{
    (void)state;
    registry_totals before = totals();
    server *srv = start(0, 4096);
    volatile LONG storm_done = 0;
    talker talkers[2] = {{server_port(srv), &storm_done, 1, 0, 0, 0},
                         {server_port(srv), &storm_done, 1000, 0, 0, 0}};
    HANDLE threads[2];
    for (int i = 0; i < 2; i++) {
        threads[i] = CreateThread(NULL, 0, talk_until_storm_ends, &talkers[i], 0, NULL);
        assert_non_null(threads[i]);
    }
    long resets = run_storm(server_port(srv), 20000, 1, 4000);
    InterlockedExchange(&storm_done, 1);
    tk_assert_wait(WaitForMultipleObjects(2, threads, TRUE, 30000), WAIT_OBJECT_0);
    for (int i = 0; i < 2; i++)
        CloseHandle(threads[i]);
    long talked = talkers[0].frames + talkers[1].frames;
    wait_until_ended(srv, resets + talked, 30000); /* the counters are checked after */
    server_counters c;
    server_stop(srv, &c);
    long leaked = totals().contexts - before.contexts;
    long unanswered = talkers[0].unanswered + talkers[1].unanswered;
    print_message("resets=%ld frames=%ld unanswered=%ld immediate_failures=%ld leaked=%ld\n",
                  resets, talked, unanswered, c.immediate_failures, leaked);
    assert_int_equal(talkers[0].wrong + talkers[1].wrong, 0);
    assert_true(talked > 0);
    /* Every frame a client got back was counted; an unanswered exchange may have had its
     * frame taken and answered after the client gave up. */
    assert_true(c.frames >= talked && c.frames <= talked + unanswered);
    assert_int_equal(leaked, 0);
}
#endif

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_storm_of_1000_resets_leaks_in_06_and_not_in_07),
        cmocka_unit_test(a_paced_probe_leaks_one_context_per_probe_in_06_and_none_in_07),
        cmocka_unit_test(with_wine_resets_only_the_immediate_failures_leak),
        cmocka_unit_test(frames_of_every_size_come_back_byte_exact),
        cmocka_unit_test(a_header_split_across_receives_is_put_back_together),
        cmocka_unit_test(a_payload_split_across_receives_is_put_back_together),
        cmocka_unit_test(frames_cut_anywhere_come_back_byte_exact),
        cmocka_unit_test(several_frames_in_one_receive_are_answered_by_one_send),
        cmocka_unit_test(a_frame_exactly_filling_the_buffer_is_answered),
        cmocka_unit_test(a_length_over_max_frame_is_refused),
        cmocka_unit_test(an_idle_connection_is_closed_and_its_aborted_receive_freed),
        cmocka_unit_test(a_connection_that_keeps_talking_is_never_closed_as_idle),
        cmocka_unit_test(garbage_http_and_idle_clients_are_survived_and_counted),
        cmocka_unit_test(a_client_that_sends_and_never_reads_is_closed_within_twice_the_idle_time),
        cmocka_unit_test(a_one_byte_trickle_is_closed_by_the_frame_deadline),
    };
#if LEAK_FIXED
    /* "thorough" (ctest's step07.server_thorough): the long storm alone. */
    const struct CMUnitTest long_ones[] = {
        cmocka_unit_test(twenty_thousand_resets_beside_framed_clients_leak_nothing),
    };
    if (argc > 1 && strcmp(argv[1], "thorough") == 0)
        return cmocka_run_group_tests_name("server, thorough", long_ones, up, tk_winsock_down);
#else
    (void)argv;
#endif
    (void)argc;
    return cmocka_run_group_tests_name("server", tests, up, tk_winsock_down);
}
