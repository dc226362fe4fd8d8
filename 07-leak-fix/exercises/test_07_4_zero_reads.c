/* Checker of exercise 07.4 (extend), the capstone: zero-byte receives, as libuv does
 * (zero_read.h). Real loopback connections, under the page heap, with every outcome of
 * every call of zero_read.c driven:
 * - the zero-byte WSARecv done at once, pending, failed at once (errors drawn per run,
 *   through the fault plan's "receive" rule), at the first start and at a restart inside
 *   the completion; real resets (SO_LINGER {1,0}) before the start and while it waits;
 * - the non-blocking recv returning everything, short reads, WSAEWOULDBLOCK, 0 (the peer
 *   closed) and errors: the checker stands in for recv in the program's imports
 *   (tutorial/import_hook.h), and only on the connection under test;
 * - the zero read's packet failed (the fault plan's "receive-done" rule) while bytes wait;
 * - the socket disposed while its zero read waits;
 * - a worker thread that takes the packet and handles it, to the end of the connection,
 *   before the WSARecv of zero_read_start has returned (the checker's own WSARecv waits),
 *   at the first start and at the restart inside the completion;
 * - two worker threads whose reads of two connections overlap (the checker's recv makes
 *   them meet): a buffer shared by every connection hands one the other's bytes.
 * The checker is the completion handler's caller: it takes each packet off the port, hands
 * it to zero_read_completed, and compares the answer with what is alive (the registry's
 * socket objects, the IN context's "in progress" bit). The checker also stands in for malloc,
 * calloc, realloc and free, and counts the blocks alive: after every case nothing may be
 * left, and N idle connections (N drawn per run) may hold no block beyond their socket
 * objects. Every recv buffer must be gone (or never have been the heap's) once the
 * completion returns. After each sequence of failures a new client is still served, its
 * bytes delivered whole and in order. Each run's seed is printed. */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tutorial/checkkit.h"
#include "tutorial/fault_plan.h"
#include "tutorial/faults.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "zero_read.h"

enum { QUIET_MS = 300, MOST_BYTES = 4 * ZERO_READ_CHUNK + 64, MOST_CONNECTIONS = 24 };

/* ---- the heap, watched from outside ------------------------------------------------------
 * Every malloc, calloc, realloc and free of the program (zero_read.c, the step's library,
 * this checker) comes through the stand-ins below, which keep the live blocks in a table. */

typedef void *(*malloc_function)(size_t);
typedef void *(*calloc_function)(size_t, size_t);
typedef void *(*realloc_function)(void *, size_t);
typedef void (*free_function)(void *);
static malloc_function real_malloc;
static calloc_function real_calloc;
static realloc_function real_realloc;
static free_function real_free;

enum { SLOTS = 1 << 14 };
static struct {
    CRITICAL_SECTION lock;
    void *address[SLOTS]; /* NULL: free slot; GONE: a block was freed here */
    size_t size[SLOTS];
    long blocks;
    long long bytes;
} heap;
static char gone_marker;
#define GONE ((void *)&gone_marker)

static size_t slot_of(const void *block)
{
    return (size_t)(((uintptr_t)block >> 4) * 2654435761u) % SLOTS;
}

static void block_born(void *block, size_t size)
{
    if (block == NULL)
        return;
    EnterCriticalSection(&heap.lock);
    size_t i = slot_of(block);
    for (size_t n = 0; n < SLOTS; n++, i = (i + 1) % SLOTS)
        if (heap.address[i] == NULL || heap.address[i] == GONE) {
            heap.address[i] = block;
            heap.size[i] = size;
            heap.blocks++;
            heap.bytes += (long long)size;
            break;
        }
    LeaveCriticalSection(&heap.lock);
}

static void block_died(void *block)
{
    if (block == NULL)
        return;
    EnterCriticalSection(&heap.lock);
    size_t i = slot_of(block);
    for (size_t n = 0; n < SLOTS && heap.address[i] != NULL; n++, i = (i + 1) % SLOTS)
        if (heap.address[i] == block) {
            heap.address[i] = GONE;
            heap.blocks--;
            heap.bytes -= (long long)heap.size[i];
            break;
        }
    LeaveCriticalSection(&heap.lock);
}

/* Whether [start, start + length) overlaps a live block. */
static bool in_a_live_block(const char *start, size_t length)
{
    bool found = false;
    EnterCriticalSection(&heap.lock);
    for (size_t i = 0; i < SLOTS && !found; i++) {
        const char *block = heap.address[i];
        if (block != NULL && block != GONE && start < block + heap.size[i] &&
            block < start + (length > 0 ? length : 1))
            found = true;
    }
    LeaveCriticalSection(&heap.lock);
    return found;
}

static void *watched_malloc(size_t size)
{
    void *block = real_malloc(size);
    block_born(block, size);
    return block;
}

static void *watched_calloc(size_t count, size_t size)
{
    void *block = real_calloc(count, size);
    block_born(block, count * size);
    return block;
}

static void *watched_realloc(void *old, size_t size)
{
    void *block = real_realloc(old, size);
    if (block != NULL || size == 0) {
        block_died(old);
        block_born(block, size);
    }
    return block;
}

static void watched_free(void *block)
{
    block_died(block);
    real_free(block);
}

typedef struct heap_now {
    long blocks;
    long long bytes;
} heap_now;

static heap_now heap_now_(void)
{
    EnterCriticalSection(&heap.lock);
    heap_now now = {heap.blocks, heap.bytes};
    LeaveCriticalSection(&heap.lock);
    return now;
}

/* ---- recv, watched and steered on the connection under test ------------------------------ */

typedef int(WSAAPI *recv_function)(SOCKET, char *, int, int);
static recv_function real_recv;

static struct {
    SOCKET target;      /* the server side whose reads are steered; INVALID_SOCKET: none */
    int would_block;    /* answer WSAEWOULDBLOCK to this many next calls                 */
    int fail_error;     /* fail the next call with this error (0: no)                    */
    int cap;            /* ask for at most this many bytes (0: no cap)                    */
    long calls;         /* calls on any of the checker's server sockets                   */
    int ranges;         /* buffers handed to recv during the current completion           */
    const char *range_start[256];
    size_t range_length[256];
} reads;

/* Two reads at once, on two threads (see a_read_on_each_of_two_workers_at_once): the first
 * read of connection A reads its bytes, then waits, bounded, until connection B's first read
 * has read B's bytes too; B's read waits until A's has read. Two buffers of their own each
 * keep their own bytes; one buffer for both holds B's bytes when A's are handed on. */
static struct {
    SOCKET a, b;           /* INVALID_SOCKET: no meeting planned */
    HANDLE a_read, b_read; /* set once each side's read has read */
    volatile LONG a_left, b_left, met;
} meeting = {INVALID_SOCKET, INVALID_SOCKET, NULL, NULL, 0, 0, 0};

static int WSAAPI recv_at_the_meeting(SOCKET s, char *buffer, int length, int flags)
{
    if (s == meeting.a && InterlockedExchange(&meeting.a_left, 0) != 0) {
        int answer = real_recv(s, buffer, length, flags);
        int error = WSAGetLastError();
        SetEvent(meeting.a_read);
        if (WaitForSingleObject(meeting.b_read, 4 * TK_PROMPT_MS) == WAIT_OBJECT_0)
            InterlockedIncrement(&meeting.met);
        WSASetLastError(error);
        return answer;
    }
    if (s == meeting.b && InterlockedExchange(&meeting.b_left, 0) != 0) {
        bool a_has_read = WaitForSingleObject(meeting.a_read, 4 * TK_PROMPT_MS) == WAIT_OBJECT_0;
        int answer = real_recv(s, buffer, length, flags);
        int error = WSAGetLastError();
        SetEvent(meeting.b_read);
        if (a_has_read)
            InterlockedIncrement(&meeting.met);
        WSASetLastError(error);
        return answer;
    }
    return real_recv(s, buffer, length, flags);
}

static int WSAAPI watched_recv(SOCKET s, char *buffer, int length, int flags)
{
    if (s == meeting.a || s == meeting.b)
        return recv_at_the_meeting(s, buffer, length, flags);
    reads.calls++;
    if (reads.ranges < 256) {
        reads.range_start[reads.ranges] = buffer;
        reads.range_length[reads.ranges] = length > 0 ? (size_t)length : 0;
        reads.ranges++;
    }
    if (s == reads.target && reads.would_block > 0) {
        reads.would_block--;
        WSASetLastError(WSAEWOULDBLOCK);
        return SOCKET_ERROR;
    }
    if (s == reads.target && reads.fail_error != 0) {
        int error = reads.fail_error;
        reads.fail_error = 0;
        WSASetLastError(error);
        return SOCKET_ERROR;
    }
    if (s == reads.target && reads.cap > 0 && length > reads.cap)
        length = reads.cap;
    return real_recv(s, buffer, length, flags);
}

static void steer_reads(SOCKET target)
{
    memset(&reads, 0, sizeof reads);
    reads.target = target;
}

/* ---- connections ------------------------------------------------------------------------- */

typedef struct connection {
    SOCKET peer;
    async_socket *s;  /* valid while !gone */
    io_context *in;   /* its address only, to match packets: never read after gone */
    SOCKET handle;
    unsigned char sent[MOST_BYTES];
    unsigned char got[MOST_BYTES];
    size_t sent_length, got_length;
    bool gone;
    bool overflow;
} connection;

static connection connections[MOST_CONNECTIONS];
static int connection_count;

void zero_read_deliver(async_socket *s, const char *bytes, DWORD length)
{
    for (int i = 0; i < connection_count; i++) {
        connection *c = &connections[i];
        if (c->gone || c->s != s)
            continue;
        if (c->got_length + length > sizeof c->got) {
            c->overflow = true;
            return;
        }
        memcpy(c->got + c->got_length, bytes, length);
        c->got_length += length;
        return;
    }
}

/* The server side of a loopback connection, non-blocking (FIONBIO, as libuv sets it), as a
 * step 07 socket object attached to test_port with the connection as its key. */
static connection *open_connection(void)
{
    assert_true(connection_count < MOST_CONNECTIONS);
    connection *c = &connections[connection_count++];
    memset(c, 0, sizeof *c);
    SOCKET mine;
    tk_socket_pair(&c->peer, &mine);
    u_long non_blocking = 1;
    assert_int_equal(ioctlsocket(mine, FIONBIO, &non_blocking), 0);
    c->s = async_socket_wrap(mine, 0, 0);
    assert_non_null(c->s);
    c->in = c->s->in;
    c->handle = mine;
    assert_true(async_socket_attach(c->s, test_port, (ULONG_PTR)c));
    return c;
}

static void send_from_peer(connection *c, size_t length)
{
    assert_true(c->sent_length + length <= sizeof c->sent);
    tk_fill_pattern(c->sent + c->sent_length, length, (unsigned)ck_random(1, 1 << 30));
    assert_true(net_send_all(c->peer, c->sent + c->sent_length, length));
    c->sent_length += length;
}

static void expect_started(connection *c, const char *what)
{
    DWORD answer = zero_read_start(c->s);
    if (answer != 0)
        fail_msg("expected the zero read of %s to start (0); it returned %lu", what,
                 (unsigned long)answer);
    if (!(context_state(c->in) & CONTEXT_IN_PROGRESS))
        fail_msg("expected the IN context of %s to be \"in progress\" once its zero read has "
                 "started: a packet is on its way to it", what);
}

/* ---- the completion handler's caller ----------------------------------------------------- */

/* One packet off test_port, handed to zero_read_completed; what it answered is checked
 * against what is alive. Fails when none comes within TK_PROMPT_MS. */
static void handle_one_packet(const char *what)
{
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    DWORD error = ok ? 0 : GetLastError();
    if (overlapped == NULL)
        fail_msg("expected a packet within %d ms (%s); none came. Is a zero read pending "
                 "after every completion that keeps the connection?", TK_PROMPT_MS, what);
    connection *c = (connection *)key;
    bool known = false;
    for (int i = 0; i < connection_count; i++)
        known = known || c == &connections[i];
    if (!known || c->gone || overlapped != &c->in->overlapped)
        fail_msg("a packet came for an operation the checker did not start, or for a "
                 "connection already gone (%s): one operation, two packets?", what);
    registry_totals before = totals();
    reads.ranges = 0;
    bool alive = zero_read_completed(c->in, bytes, error);
    registry_totals after = totals();
    for (int i = 0; i < reads.ranges; i++)
        if (in_a_live_block(reads.range_start[i], reads.range_length[i]))
            fail_msg("recv read into memory that is still allocated after the completion "
                     "returned (%s): a receive buffer the connection keeps while it idles. "
                     "The buffer must exist only while it holds bytes", what);
    if (c->overflow)
        fail_msg("more bytes were delivered than the peer sent (%s)", what);
    if (alive) {
        if (after.sockets != before.sockets)
            fail_msg("zero_read_completed returned true (the connection lives on), but its "
                     "socket object was freed (%s)", what);
        if (!(context_state(c->in) & CONTEXT_IN_PROGRESS))
            fail_msg("zero_read_completed returned true (the connection lives on), but no zero "
                     "read is pending on it (%s): no packet will ever come for it again, and "
                     "its next bytes wait forever", what);
    } else {
        if (after.sockets != before.sockets - 1)
            fail_msg("zero_read_completed returned false (the connection is gone), but its "
                     "socket object is still alive (%s): nobody will ever dispose it", what);
        c->gone = true;
    }
}

/* Handles packets until every connection in [first, first + count) has delivered what its
 * peer sent (or is gone, when gone_is_fine), failing after TK_PROMPT_MS with no packet. */
static bool all_delivered(int first, int count)
{
    for (int i = first; i < first + count; i++)
        if (!connections[i].gone && connections[i].got_length < connections[i].sent_length)
            return false;
    return true;
}

static void assert_delivered_whole(const connection *c, const char *what)
{
    if (c->got_length != c->sent_length || memcmp(c->got, c->sent, c->sent_length) != 0)
        fail_msg("expected the %lu bytes the peer sent to be delivered whole and in order "
                 "(%s); %lu were delivered%s", (unsigned long)c->sent_length, what,
                 (unsigned long)c->got_length,
                 c->got_length == c->sent_length ? ", not the ones sent" : "");
}

static void pump_until_delivered(int first, int count, const char *what)
{
    while (!all_delivered(first, count))
        handle_one_packet(what);
    for (int i = first; i < first + count; i++) {
        if (connections[i].gone)
            fail_msg("expected the connection to live on after its bytes (%s); it was "
                     "disposed after %lu of %lu bytes. A zero read's packet always says 0 "
                     "bytes: that is no end of stream", what,
                     (unsigned long)connections[i].got_length,
                     (unsigned long)connections[i].sent_length);
        assert_delivered_whole(&connections[i], what);
    }
}

static void pump_until_gone(connection *c, const char *what)
{
    for (int packets = 0; !c->gone; packets++) {
        if (packets > 64)
            fail_msg("expected the connection to end (%s); 64 packets later it was still "
                     "alive, its zero read posted again and again", what);
        handle_one_packet(what);
    }
}

/* Disposes a connection whose zero read waits: its aborted packet must free it. */
static void dispose_while_waiting(connection *c, const char *what)
{
    async_socket_dispose(c->s);
    pump_until_gone(c, what);
}

typedef struct baseline {
    registry_totals registry;
    heap_now heap;
} baseline;

static baseline now(void)
{
    baseline b = {totals(), heap_now_()};
    return b;
}

static void assert_nothing_left(baseline before, const char *what)
{
    baseline after = now();
    if (after.registry.contexts != before.registry.contexts ||
        after.registry.sockets != before.registry.sockets)
        fail_msg("expected every context and socket object to be freed (%s); %ld context(s) "
                 "and %ld socket object(s) were left", what,
                 after.registry.contexts - before.registry.contexts,
                 after.registry.sockets - before.registry.sockets);
    if (after.heap.blocks != before.heap.blocks)
        fail_msg("expected no allocated block to be left (%s); %ld block(s) of %lld bytes "
                 "were", what, after.heap.blocks - before.heap.blocks,
                 after.heap.bytes - before.heap.bytes);
}

/* After a sequence of failures: a new client is still served, whole and in order. */
static void a_new_client_is_served(const char *after_what)
{
    baseline before = now();
    int first = connection_count;
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    expect_started(c, "a new client");
    send_from_peer(c, (size_t)ck_random(1, 2 * ZERO_READ_CHUNK + 100));
    char what[160];
    snprintf(what, sizeof what, "a new client, after %s", after_what);
    pump_until_delivered(first, 1, what);
    dispose_while_waiting(c, what);
    assert_nothing_left(before, what);
    closesocket(c->peer);
}

/* ---- the cases --------------------------------------------------------------------------- */

static void a_waiting_zero_read_wakes_for_the_bytes_and_delivers_them(void **state)
{
    (void)state;
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    heap_now wrapped = heap_now_();
    expect_started(c, "an idle connection");
    tk_assert_no_completion(test_port, QUIET_MS); /* nothing arrived: it waits */
    send_from_peer(c, (size_t)ck_random(1, 3 * ZERO_READ_CHUNK + 100));
    pump_until_delivered(0, 1, "bytes that woke a waiting zero read");
    heap_now idle = heap_now_();
    if (idle.blocks != wrapped.blocks)
        fail_msg("expected the connection, idle again, to hold no block beyond its socket "
                 "object; it held %ld more block(s), %lld bytes", idle.blocks - wrapped.blocks,
                 idle.bytes - wrapped.bytes);
    dispose_while_waiting(c, "a connection disposed while its zero read waits");
    assert_nothing_left(before, "a connection disposed while its zero read waits");
    closesocket(c->peer);
}

static void a_zero_read_done_at_once_then_the_peer_closes(void **state)
{
    (void)state;
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    send_from_peer(c, (size_t)ck_random(1, 2 * ZERO_READ_CHUNK));
    tk_wait_readable(c->handle, TK_PROMPT_MS); /* there before the call */
    set_plan("receive#1=now"); /* and the call says it finished at once, every time */
    expect_started(c, "a connection with bytes waiting");
    pump_until_delivered(0, 1, "a zero read done at once");
    assert_int_equal(shutdown(c->peer, SD_SEND), 0); /* recv then returns 0 */
    pump_until_gone(c, "a peer that closed (recv returned 0)");
    long fired = fault_plan_fired("receive");
    set_plan(NULL);
    if (fired != 1)
        fail_msg("expected zero_read_start to call WSARecv (which the checker answered \"done "
                 "at once\"); it was not called");
    assert_nothing_left(before, "a peer that closed");
    closesocket(c->peer);
}

static const DWORD start_errors[] = {WSAECONNRESET, WSAECONNABORTED, WSAENETRESET,
                                     WSAENOTCONN,   WSAESHUTDOWN,    WSAEINTR,
                                     WSAENETDOWN};

static void zero_reads_that_fail_at_once_leave_nothing_in_progress(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        DWORD planned = start_errors[ck_random(0, 6)];
        baseline before = now();
        connection *c = open_connection();
        steer_reads(INVALID_SOCKET);
        char plan[64];
        snprintf(plan, sizeof plan, "receive#1=fail:%lu", (unsigned long)planned);
        set_plan(plan);
        DWORD answer = zero_read_start(c->s);
        set_plan(NULL);
        if (answer != planned)
            fail_msg("expected zero_read_start, whose WSARecv failed at once (%lu, from the "
                     "fault plan), to return that error for its caller to dispose; it "
                     "returned %lu", (unsigned long)planned, (unsigned long)answer);
        if (context_state(c->in) & CONTEXT_IN_PROGRESS)
            fail_msg("a zero read failed at once (%lu) and its IN context still read \"in "
                     "progress\": no packet will ever come, so dispose would leave it alive "
                     "forever", (unsigned long)planned);
        async_socket_dispose(c->s); /* the caller's part */
        c->gone = true;
        tk_assert_no_completion(test_port, QUIET_MS);
        assert_nothing_left(before, "a zero read that failed at once");
        closesocket(c->peer);
    }
    a_new_client_is_served("zero reads that failed at once");
}

static void a_restart_that_fails_at_once_ends_the_connection(void **state)
{
    (void)state;
    DWORD planned = start_errors[ck_random(0, 6)];
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    char plan[64];
    snprintf(plan, sizeof plan, "receive#2=fail:%lu", (unsigned long)planned);
    set_plan(plan);
    expect_started(c, "a connection whose next zero read will fail at once");
    send_from_peer(c, (size_t)ck_random(1, ZERO_READ_CHUNK - 1));
    pump_until_gone(c, "a zero read that failed at once inside the completion");
    long fired = fault_plan_fired("receive");
    set_plan(NULL);
    if (fired != 1)
        fail_msg("expected the completion to post the next zero read (which the fault plan "
                 "failed at once); %ld were failed", fired);
    assert_delivered_whole(c, "the bytes before the failed restart");
    assert_nothing_left(before, "a zero read that failed at once inside the completion");
    closesocket(c->peer);
    a_new_client_is_served("a restart that failed at once");
}

static void resets_before_the_start_and_while_it_waits_end_the_connection(void **state)
{
    (void)state;
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    net_hard_reset(c->peer);
    tk_wait_readable(c->handle, TK_PROMPT_MS); /* the reset has arrived */
    /* Windows fails the WSARecv at once; under Wine the import layer answers as Windows. */
    DWORD answer = zero_read_start(c->s);
    if (answer != WSAECONNRESET)
        fail_msg("expected zero_read_start on a connection reset by its peer to return "
                 "WSAECONNRESET (10054), the error of its WSARecv; it returned %lu",
                 (unsigned long)answer);
    if (context_state(c->in) & CONTEXT_IN_PROGRESS)
        fail_msg("a zero read failed at once with WSAECONNRESET and its IN context still read "
                 "\"in progress\"");
    async_socket_dispose(c->s);
    c->gone = true;
    assert_nothing_left(before, "a reset before the zero read");

    before = now();
    connection *d = open_connection();
    expect_started(d, "a connection about to be reset");
    net_hard_reset(d->peer);
    pump_until_gone(d, "a reset while the zero read waits");
    assert_nothing_left(before, "a reset while the zero read waits");
    a_new_client_is_served("resets");
}

static void a_wake_up_with_nothing_to_read_posts_the_next_zero_read(void **state)
{
    (void)state;
    baseline before = now();
    connection *c = open_connection();
    steer_reads(c->handle);
    reads.would_block = 1; /* the first recv finds nothing */
    expect_started(c, "a connection");
    send_from_peer(c, (size_t)ck_random(1, 2 * ZERO_READ_CHUNK));
    handle_one_packet("a wake-up whose recv answered WSAEWOULDBLOCK");
    if (c->gone)
        fail_msg("the connection was disposed after a recv that answered WSAEWOULDBLOCK: "
                 "a wake-up with nothing to read is normal, not an error");
    if (reads.calls < 1)
        fail_msg("expected the completion to read what arrived with recv; it never called it");
    pump_until_delivered(0, 1, "the packet after a wake-up with nothing to read");
    dispose_while_waiting(c, "a connection disposed while its zero read waits");
    assert_nothing_left(before, "a wake-up with nothing to read");
    closesocket(c->peer);
}

static void short_reads_deliver_every_byte_in_order(void **state)
{
    (void)state;
    baseline before = now();
    connection *c = open_connection();
    steer_reads(c->handle);
    reads.cap = ck_random(1, 700);
    send_from_peer(c, (size_t)ck_random(2 * ZERO_READ_CHUNK, 3 * ZERO_READ_CHUNK));
    tk_wait_readable(c->handle, TK_PROMPT_MS);
    expect_started(c, "a connection whose reads come back short");
    pump_until_delivered(0, 1, "reads that came back short");
    dispose_while_waiting(c, "a connection disposed while its zero read waits");
    assert_nothing_left(before, "short reads");
    closesocket(c->peer);
}

static void a_read_that_fails_ends_the_connection(void **state)
{
    (void)state;
    static const int errors[] = {WSAECONNRESET, WSAECONNABORTED, WSAENETRESET, WSAETIMEDOUT,
                                 WSAENETDOWN};
    baseline before = now();
    connection *c = open_connection();
    steer_reads(c->handle);
    reads.fail_error = errors[ck_random(0, 4)];
    int planned = reads.fail_error;
    expect_started(c, "a connection whose next recv fails");
    send_from_peer(c, (size_t)ck_random(1, ZERO_READ_CHUNK));
    handle_one_packet("a recv that failed");
    if (!c->gone)
        fail_msg("expected the connection to be disposed when recv failed with %d; it lived "
                 "on", planned);
    assert_nothing_left(before, "a recv that failed");
    closesocket(c->peer);
    a_new_client_is_served("a recv that failed");
}

/* The packet itself says the connection is over (the fault plan's receive-done rule fails it,
 * as a reset would), while the bytes sent before are still there to read: the packet's error
 * decides, not what recv would still find. */
static void a_packet_that_failed_ends_the_connection(void **state)
{
    (void)state;
    static const char *const errors[] = {"ERROR_NETNAME_DELETED", "ERROR_CONNECTION_ABORTED",
                                         "WSAECONNRESET"};
    const char *planned = errors[ck_random(0, 2)];
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    char plan[80];
    snprintf(plan, sizeof plan, "receive-done#1=error:%s", planned);
    set_plan(plan);
    expect_started(c, "a connection whose zero read's packet will fail");
    send_from_peer(c, (size_t)ck_random(1, ZERO_READ_CHUNK - 1));
    handle_one_packet("a zero read whose packet failed");
    long fired = fault_plan_fired("receive-done");
    set_plan(NULL);
    if (fired != 1)
        fail_msg("expected the fault plan to fail the zero read's packet (%s); it did not",
                 planned);
    if (!c->gone)
        fail_msg("expected the connection to be disposed when its zero read's packet failed "
                 "(%s); it lived on. A packet with an error ends the connection, whatever "
                 "recv would still read", planned);
    assert_nothing_left(before, "a zero read whose packet failed");
    closesocket(c->peer);
    a_new_client_is_served("a zero read whose packet failed");
}

/* ---- a worker that takes the packet before the start returns ------------------------------
 *
 * On a server, workers wait on the port while other threads start operations: the packet of
 * a zero read that finished at once can be taken and handled on another processor before
 * WSARecv has even returned to zero_read_start. The checker makes that happen: its own
 * WSARecv (through the program's imports) makes the call, then waits, bounded, until a
 * worker thread has handled the packet, here to the end of the connection, and only then
 * returns to zero_read_start. Whatever zero_read_start does after the call then runs on a
 * context that the worker may already have freed (the page heap stops the process). */

enum { EARLY_HANDLE_MS = 4 * TK_PROMPT_MS };

typedef int(WSAAPI *wsarecv_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
                                      LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
static wsarecv_function real_wsarecv;

static struct {
    volatile LONG armed;   /* the next WSARecv waits until the worker is done              */
    SOCKET close_first;    /* when not INVALID_SOCKET: that peer shuts down its side, and
                              its end has arrived, before the armed WSARecv is made        */
    HANDLE done;           /* set by the worker when it stops                              */
    volatile LONG waited;  /* WSARecv calls that waited, and found the worker done         */
    connection *c;         /* the worker's connection; written before the worker starts   */
    int packets, strangers;
    bool gone;
} early;

static int WSAAPI wsarecv_handled_at_once(SOCKET s, LPWSABUF buffers, DWORD count,
                                          LPDWORD received, LPDWORD flags,
                                          LPWSAOVERLAPPED overlapped,
                                          LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    bool armed = overlapped != NULL && InterlockedExchange(&early.armed, 0) != 0;
    if (armed && early.close_first != INVALID_SOCKET) {
        shutdown(early.close_first, SD_SEND); /* the call then finishes at once */
        tk_wait_readable(s, TK_PROMPT_MS);
    }
    int answer = real_wsarecv(s, buffers, count, received, flags, overlapped, routine);
    int error = WSAGetLastError();
    if (armed && WaitForSingleObject(early.done, EARLY_HANDLE_MS) == WAIT_OBJECT_0)
        InterlockedIncrement(&early.waited);
    WSASetLastError(error);
    return answer;
}

/* The worker: hands the connection's packets to zero_read_completed until it is gone (or,
 * bounded, until none comes). It cannot fail the test (cmocka's failures belong to the
 * test's own thread): it records, and the test reads after joining it. */
static DWORD WINAPI early_worker(void *argument)
{
    (void)argument;
    while (!early.gone && early.packets < 64) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped,
                                            EARLY_HANDLE_MS);
        DWORD error = ok ? 0 : GetLastError();
        if (overlapped == NULL)
            break;
        if (overlapped != &early.c->in->overlapped) {
            early.strangers++;
            continue;
        }
        early.packets++;
        if (!zero_read_completed(early.c->in, bytes, error))
            early.gone = true;
    }
    SetEvent(early.done);
    return 0;
}

static void watch_wsarecv(void)
{
    if (real_wsarecv == NULL) {
        early.done = CreateEventW(NULL, TRUE, FALSE, NULL);
        assert_non_null(early.done);
        early.close_first = INVALID_SOCKET;
        real_wsarecv = (wsarecv_function)tk_hook_import("WSARecv",
                                                        (tk_function)wsarecv_handled_at_once);
        if (real_wsarecv == NULL)
            fail_msg("the checker could not watch WSARecv in the program's imports");
    }
}

static void a_packet_handled_before_its_start_returns(void **state)
{
    (void)state;
    watch_wsarecv();
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    send_from_peer(c, (size_t)ck_random(1, ZERO_READ_CHUNK - 1));
    assert_int_equal(shutdown(c->peer, SD_SEND), 0); /* the bytes, then the end */
    tk_wait_readable(c->handle, TK_PROMPT_MS);
    early.c = c;
    early.packets = early.strangers = 0;
    early.gone = false;
    early.waited = 0;
    ResetEvent(early.done);
    HANDLE thread = CreateThread(NULL, 0, early_worker, NULL, 0, NULL);
    assert_non_null(thread);
    InterlockedExchange(&early.armed, 1);
    DWORD answer = zero_read_start(c->s); /* returns once the worker is done */
    InterlockedExchange(&early.armed, 0);
    bool joined = WaitForSingleObject(thread, 2 * EARLY_HANDLE_MS) == WAIT_OBJECT_0;
    CloseHandle(thread);
    if (!joined)
        fail_msg("expected the checker's worker to be done within %d ms; it was still "
                 "handling packets", 2 * EARLY_HANDLE_MS);
    if (answer != 0)
        fail_msg("expected zero_read_start to return 0 (its WSARecv started); it returned %lu",
                 (unsigned long)answer);
    if (early.waited != 1)
        fail_msg("expected zero_read_start to make one overlapped WSARecv, whose packet a "
                 "worker took and handled before the call returned; it had not");
    if (early.strangers != 0)
        fail_msg("%d packet(s) came for an OVERLAPPED the checker did not start",
                 early.strangers);
    if (!early.gone)
        fail_msg("expected the worker to end the connection: its peer sent bytes and closed");
    c->gone = true;
    assert_delivered_whole(c, "bytes whose packet a worker took before the start returned");
    assert_nothing_left(before, "a packet handled before its start returned");
    closesocket(c->peer);
}

/* The same race at the other call site: the next zero read, posted inside the completion.
 * The test's thread handles the first packet (bytes); when the completion posts the next zero
 * read, the peer closes, that zero read finishes at once, and a worker takes its packet and
 * ends the connection before WSARecv has returned. Whatever the completion does after it
 * posted then runs on a context the worker has freed (and on a socket object it freed, unless
 * the completion holds a reference). Its answer is not compared: by the time it returns, the
 * worker may have ended the connection it said lives on. */
static void a_packet_handled_before_its_restart_returns(void **state)
{
    (void)state;
    watch_wsarecv();
    baseline before = now();
    connection *c = open_connection();
    steer_reads(INVALID_SOCKET);
    send_from_peer(c, (size_t)ck_random(1, ZERO_READ_CHUNK - 1));
    tk_wait_readable(c->handle, TK_PROMPT_MS);
    expect_started(c, "a connection whose next zero read a worker will handle at once");
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    DWORD error = ok ? 0 : GetLastError();
    if (overlapped != &c->in->overlapped)
        fail_msg("expected the packet of the zero read the checker started; %s",
                 overlapped == NULL ? "none came" : "another came");
    early.c = c;
    early.packets = early.strangers = 0;
    early.gone = false;
    early.waited = 0;
    ResetEvent(early.done);
    HANDLE thread = CreateThread(NULL, 0, early_worker, NULL, 0, NULL);
    assert_non_null(thread);
    early.close_first = c->peer;
    InterlockedExchange(&early.armed, 1);
    (void)zero_read_completed(c->in, bytes, error); /* returns once the worker is done */
    InterlockedExchange(&early.armed, 0);
    early.close_first = INVALID_SOCKET;
    bool joined = WaitForSingleObject(thread, 2 * EARLY_HANDLE_MS) == WAIT_OBJECT_0;
    CloseHandle(thread);
    if (!joined)
        fail_msg("expected the checker's worker to be done within %d ms; it was still "
                 "handling packets", 2 * EARLY_HANDLE_MS);
    if (early.waited != 1)
        fail_msg("expected the completion to deliver the bytes and post the next zero read, "
                 "whose packet a worker took and handled before the call returned; it had "
                 "not");
    if (early.strangers != 0)
        fail_msg("%d packet(s) came for an OVERLAPPED the checker did not start",
                 early.strangers);
    if (!early.gone)
        fail_msg("expected the worker to end the connection: its peer closed");
    c->gone = true;
    assert_delivered_whole(c, "bytes read before the next zero read, which a worker handled "
                              "at once");
    assert_nothing_left(before, "a packet handled before the restart returned");
    closesocket(c->peer);
}

/* ---- two workers, each reading its own connection, at the same moment ---------------------
 *
 * A server's workers handle the packets of different connections at once. Two worker threads
 * here take one packet each, of two connections, and the checker's recv makes their reads
 * overlap (recv_at_the_meeting): connection A's read has read A's bytes when B's reads B's,
 * and only then are A's handed on. A buffer of each read's own keeps A's bytes; one buffer
 * shared by every connection holds B's bytes by then. */

static struct {
    connection *c[2];
    bool alive[2];
    volatile LONG handled, strangers;
} pair;

static DWORD WINAPI one_packet_worker(void *argument)
{
    (void)argument;
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped,
                                        EARLY_HANDLE_MS);
    DWORD error = ok ? 0 : GetLastError();
    if (overlapped == NULL)
        return 0;
    for (int i = 0; i < 2; i++)
        if (overlapped == &pair.c[i]->in->overlapped) {
            pair.alive[i] = zero_read_completed(pair.c[i]->in, bytes, error);
            InterlockedIncrement(&pair.handled);
            return 0;
        }
    InterlockedIncrement(&pair.strangers);
    return 0;
}

static void two_workers_read_two_connections_at_once(void **state)
{
    (void)state;
    if (meeting.a_read == NULL) {
        meeting.a_read = CreateEventW(NULL, TRUE, FALSE, NULL);
        meeting.b_read = CreateEventW(NULL, TRUE, FALSE, NULL);
        assert_non_null(meeting.a_read);
        assert_non_null(meeting.b_read);
    }
    baseline before = now();
    connection *a = open_connection();
    connection *b = open_connection();
    steer_reads(INVALID_SOCKET);
    send_from_peer(a, (size_t)ck_random(1, ZERO_READ_CHUNK - 1));
    send_from_peer(b, (size_t)ck_random(1, ZERO_READ_CHUNK - 1));
    tk_wait_readable(a->handle, TK_PROMPT_MS);
    tk_wait_readable(b->handle, TK_PROMPT_MS);
    pair.c[0] = a;
    pair.c[1] = b;
    pair.alive[0] = pair.alive[1] = false;
    pair.handled = pair.strangers = 0;
    ResetEvent(meeting.a_read);
    ResetEvent(meeting.b_read);
    meeting.met = 0;
    meeting.a_left = meeting.b_left = 1;
    meeting.a = a->handle;
    meeting.b = b->handle;
    expect_started(a, "connection A of two");
    expect_started(b, "connection B of two");
    HANDLE workers[2];
    for (int i = 0; i < 2; i++) {
        workers[i] = CreateThread(NULL, 0, one_packet_worker, NULL, 0, NULL);
        assert_non_null(workers[i]);
    }
    bool joined = WaitForMultipleObjects(2, workers, TRUE, 4 * EARLY_HANDLE_MS) ==
                  WAIT_OBJECT_0;
    for (int i = 0; i < 2; i++)
        CloseHandle(workers[i]);
    meeting.a = meeting.b = INVALID_SOCKET;
    if (!joined)
        fail_msg("expected two workers to handle one packet each within %d ms; they were "
                 "still busy", 4 * EARLY_HANDLE_MS);
    if (pair.strangers != 0)
        fail_msg("%ld packet(s) came for an OVERLAPPED the checker did not start",
                 (long)pair.strangers);
    if (pair.handled != 2)
        fail_msg("expected each of two workers to take one connection's packet; %ld did",
                 (long)pair.handled);
    if (meeting.met != 2)
        fail_msg("expected the reads of two connections, on two workers, to run at the same "
                 "time; one waited for the other. Workers read different connections in "
                 "parallel: does every completion share one buffer, behind one lock?");
    for (int i = 0; i < 2; i++)
        if (!pair.alive[i] || !(context_state(pair.c[i]->in) & CONTEXT_IN_PROGRESS))
            fail_msg("expected connection %c to live on, its next zero read pending, after "
                     "its bytes", "AB"[i]);
    pump_until_delivered(0, 2, "two connections read at once, on two workers");
    dispose_while_waiting(a, "connection A disposed while its zero read waits");
    dispose_while_waiting(b, "connection B disposed while its zero read waits");
    assert_nothing_left(before, "two connections read at once");
    closesocket(a->peer);
    closesocket(b->peer);
}

static void idle_connections_hold_no_receive_buffers(void **state)
{
    (void)state;
    baseline before = now();
    int n = ck_random(6, MOST_CONNECTIONS - 2);
    for (int i = 0; i < n; i++)
        open_connection();
    steer_reads(INVALID_SOCKET);
    heap_now wrapped = heap_now_();
    for (int i = 0; i < n; i++)
        expect_started(&connections[i], "one of many idle connections");
    for (int i = 0; i < n; i++)
        send_from_peer(&connections[i], (size_t)ck_random(1, 2 * ZERO_READ_CHUNK));
    pump_until_delivered(0, n, "many connections, each sent a message");
    heap_now idle = heap_now_();
    if (idle.blocks != wrapped.blocks || idle.bytes != wrapped.bytes)
        fail_msg("expected %d idle connections, each with its zero read pending, to hold no "
                 "memory beyond their socket objects; they held %ld more block(s), %lld "
                 "bytes (%lld per connection): a receive buffer per connection is what zero "
                 "reads exist to avoid", n, idle.blocks - wrapped.blocks,
                 idle.bytes - wrapped.bytes, (idle.bytes - wrapped.bytes) / n);
    for (int i = 0; i < n; i++)
        async_socket_dispose(connections[i].s);
    for (int i = 0; i < n; i++)
        pump_until_gone(&connections[i], "many connections disposed while they wait");
    assert_nothing_left(before, "many idle connections");
    for (int i = 0; i < n; i++)
        closesocket(connections[i].peer);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int watch_everything(void **state)
{
    InitializeCriticalSection(&heap.lock);
    int up = tk_faults_up(state);
    faults_set_windows_resets(true); /* the reset test expects Windows' answer */
    real_malloc = (malloc_function)tk_hook_import("malloc", (tk_function)watched_malloc);
    real_calloc = (calloc_function)tk_hook_import("calloc", (tk_function)watched_calloc);
    real_realloc = (realloc_function)tk_hook_import("realloc", (tk_function)watched_realloc);
    real_free = (free_function)tk_hook_import("free", (tk_function)watched_free);
    /* A function this program does not import is not hooked: nothing here calls recv. */
    real_recv = (recv_function)tk_hook_import("recv", (tk_function)watched_recv);
    return up;
}

/* One port per test, no fault plan, no connections: nothing a failed test left behind can
 * reach the next test. */
static int fresh_port(void **state)
{
    set_plan(NULL);
    connection_count = 0;
    steer_reads(INVALID_SOCKET);
    if (real_malloc == NULL || real_free == NULL || real_calloc == NULL)
        fail_msg("the checker could not watch malloc, calloc and free in the program's imports");
    if (real_recv == NULL)
        fail_msg("zero_read.c never calls recv (the program does not import it): the "
                 "contract reads what arrived with recv on the non-blocking socket");
    return test_port_open(state);
}
#define ON_ITS_OWN_PORT(test) cmocka_unit_test_setup_teardown(test, fresh_port, test_port_close)

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        ON_ITS_OWN_PORT(a_waiting_zero_read_wakes_for_the_bytes_and_delivers_them),
        ON_ITS_OWN_PORT(a_zero_read_done_at_once_then_the_peer_closes),
        ON_ITS_OWN_PORT(zero_reads_that_fail_at_once_leave_nothing_in_progress),
        ON_ITS_OWN_PORT(a_restart_that_fails_at_once_ends_the_connection),
        ON_ITS_OWN_PORT(resets_before_the_start_and_while_it_waits_end_the_connection),
        ON_ITS_OWN_PORT(a_wake_up_with_nothing_to_read_posts_the_next_zero_read),
        ON_ITS_OWN_PORT(short_reads_deliver_every_byte_in_order),
        ON_ITS_OWN_PORT(a_read_that_fails_ends_the_connection),
        ON_ITS_OWN_PORT(a_packet_that_failed_ends_the_connection),
        ON_ITS_OWN_PORT(idle_connections_hold_no_receive_buffers),
        ON_ITS_OWN_PORT(a_packet_handled_before_its_start_returns),
        ON_ITS_OWN_PORT(a_packet_handled_before_its_restart_returns),
        ON_ITS_OWN_PORT(two_workers_read_two_connections_at_once),
    };
    return CK_RUN_CHECKER("exercise 07.4", tests, watch_everything, tk_winsock_down);
}
