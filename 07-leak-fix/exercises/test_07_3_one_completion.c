/* Checker of exercise 07.3 (find the bug): every receive that quick_receive_start reports
 * as started must bring exactly one completion packet, and one that failed at once none.
 * The checker only counts packets, so a second one touches nothing; the data's lengths
 * are picked per run (the seed is printed). One test puts several sockets' receives on one
 * port, the others' packets already queued, and checks that each packet reaches the receive
 * its key and OVERLAPPED name. */
#include <string.h>

#include "buggy_quick_receive.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"
#include "tutorial/checkkit.h"

enum { QUIET_MS = 300 };

typedef struct counted {
    int packets;
    DWORD bytes[4];
} counted;

typedef struct connection {
    HANDLE port;
    SOCKET peer, mine;
} connection;

static connection open_connection(void)
{
    connection c;
    tk_socket_pair(&c.peer, &c.mine);
    c.port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(c.port);
    assert_true(quick_receive_attach(c.mine, c.port));
    return c;
}

static void close_connection(connection c)
{
    closesocket(c.peer);
    closesocket(c.mine);
    CloseHandle(c.port);
}

/* Counts the packets for op: the first may take TK_PROMPT_MS, any further one is counted
 * if it comes within QUIET_MS. */
static counted count_packets(HANDLE port, quick_receive *op, int expected)
{
    counted c = {0, {0, 0, 0, 0}};
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        GetQueuedCompletionStatus(port, &bytes, &key, &overlapped,
                                  c.packets < expected ? TK_PROMPT_MS : QUIET_MS);
        if (overlapped == NULL)
            return c;
        assert_ptr_equal(overlapped, &op->overlapped);
        if (c.packets < 4)
            c.bytes[c.packets] = bytes;
        c.packets++;
    }
}

enum { ROUNDS = 3 };

/* Several receives in a row on one connection, each finding its data (of a length this run
 * picks) already there. */
static void a_receive_that_finishes_at_once_brings_exactly_one_packet(void **state)
{
    (void)state;
    connection c = open_connection();
    for (int round = 0; round < ROUNDS; round++) {
        char data[64];
        int length = ck_random(1, (int)sizeof data);
        for (int i = 0; i < length; i++)
            data[i] = (char)ck_random('a', 'z');
        assert_true(net_send_all(c.peer, data, length));
        tk_wait_readable(c.mine, TK_PROMPT_MS); /* the bytes are there before the call */
        quick_receive op;
        DWORD error = quick_receive_start(c.mine, c.port, &op);
        if (error != 0)
            fail_msg("expected quick_receive_start to start the receive (0); it returned %lu",
                     (unsigned long)error);
        counted n = count_packets(c.port, &op, 1);
        if (n.packets == 0)
            fail_msg("expected exactly one completion packet for one receive that finished at "
                     "once, which reported it had started; none came within %d ms, so no "
                     "handler would ever hear of it", TK_PROMPT_MS);
        if (n.packets != 1)
            fail_msg("expected exactly one completion packet for one receive that finished "
                     "at once; %d came (with %lu and %lu bytes). A handler would complete it "
                     "%d times: the second time on a context that may be freed and reused by "
                     "then", n.packets, (unsigned long)n.bytes[0], (unsigned long)n.bytes[1],
                     n.packets);
        if (n.bytes[0] != (DWORD)length)
            fail_msg("expected the packet of a receive that found %d bytes waiting to say %d "
                     "bytes; it said %lu", length, length, (unsigned long)n.bytes[0]);
        assert_memory_equal(op.buffer, data, length);
    }
    close_connection(c);
}

static void a_receive_that_waits_brings_exactly_one_packet(void **state)
{
    (void)state;
    connection c = open_connection();
    quick_receive op;
    assert_int_equal(quick_receive_start(c.mine, c.port, &op), 0); /* nothing there yet */
    assert_true(net_send_all(c.peer, "hello", 5));
    counted n = count_packets(c.port, &op, 1);
    if (n.packets != 1)
        fail_msg("expected exactly one completion packet for a receive that waited for its "
                 "data; %d came", n.packets);
    assert_int_equal(n.bytes[0], 5);
    close_connection(c);
}

static void a_receive_that_fails_at_once_brings_no_packet(void **state)
{
    (void)state;
    connection c = open_connection();
    assert_int_equal(shutdown(c.mine, SD_RECEIVE), 0);
    quick_receive op;
    DWORD error = quick_receive_start(c.mine, c.port, &op);
    if (error != WSAESHUTDOWN)
        fail_msg("expected the receive after shutdown(SD_RECEIVE) to fail at once with "
                 "WSAESHUTDOWN (10058); it returned %lu", (unsigned long)error);
    counted n = count_packets(c.port, &op, 0);
    if (n.packets != 0)
        fail_msg("expected no packet for a receive that failed at once (its error was "
                 "returned); %d came", n.packets);
    close_connection(c);
}

/* ---- one port, many sockets ---------------------------------------------------------------
 *
 * A server's port carries the packets of every socket on it. The receives of several
 * connections share one port here: the others' receives wait for data, which then arrives,
 * so their packets are on the port (the checker reads the port's depth, the count of packets
 * queued on it, with NtQueryIoCompletion) before one receive is started that finds its data
 * already there. Then every packet is taken off the port and given to the owner its
 * completion key names: each receive must get exactly one, with its own OVERLAPPED. */

typedef LONG(NTAPI *query_port_function)(HANDLE, int, void *, ULONG, ULONG *);

/* How many packets are queued on port now; -1 when the system cannot tell. */
static long port_depth(HANDLE port)
{
    static query_port_function query;
    if (query == NULL)
        query = (query_port_function)(void (*)(void))GetProcAddress(
            GetModuleHandleW(L"ntdll.dll"), "NtQueryIoCompletion");
    LONG depth = -1; /* IO_COMPLETION_BASIC_INFORMATION, class 0 */
    if (query == NULL || query(port, 0, &depth, sizeof depth, NULL) != 0)
        return -1;
    return depth;
}

enum { SHARED_MAX = 6 };

typedef struct owner {
    SOCKET peer, mine;
    quick_receive op;
    int length; /* the bytes its peer sent */
    counted got;
    int foreign; /* packets with its key but another OVERLAPPED */
} owner;

typedef struct depth_wait {
    HANDLE port;
    long at_least;
} depth_wait;

static bool port_holds(void *context)
{
    const depth_wait *w = context;
    return port_depth(w->port) >= w->at_least;
}

static void send_random(owner *o)
{
    char data[64];
    o->length = ck_random(1, (int)sizeof data);
    for (int i = 0; i < o->length; i++)
        data[i] = (char)ck_random('a', 'z');
    assert_true(net_send_all(o->peer, data, o->length));
}

static void every_packet_on_a_shared_port_reaches_its_own_receive(void **state)
{
    (void)state;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(port);
    if (port_depth(port) != 0)
        fail_msg("expected to read a new port's depth (NtQueryIoCompletion) as 0; read %ld",
                 port_depth(port));
    int count = ck_random(3, SHARED_MAX);
    int quick = ck_random(0, count - 1); /* the one that finds its data there */
    owner owners[SHARED_MAX];
    memset(owners, 0, sizeof owners);
    for (int i = 0; i < count; i++) {
        tk_socket_pair(&owners[i].peer, &owners[i].mine);
        assert_true(quick_receive_attach(owners[i].mine, port));
    }
    /* The others: receives that wait, then their data, then their packets on the port. */
    for (int i = 0; i < count; i++) {
        if (i == quick)
            continue;
        DWORD error = quick_receive_start(owners[i].mine, port, &owners[i].op);
        if (error != 0)
            fail_msg("expected quick_receive_start to start a receive with nothing to read "
                     "yet (0); it returned %lu", (unsigned long)error);
    }
    for (int i = 0; i < count; i++)
        if (i != quick)
            send_random(&owners[i]);
    depth_wait w = {port, count - 1};
    if (!tk_wait_until(port_holds, &w, TK_PROMPT_MS))
        fail_msg("expected the %d receives whose data had arrived to have their packets on the "
                 "port within %d ms; it held %ld", count - 1, TK_PROMPT_MS, port_depth(port));
    long others_queued = port_depth(port);
    /* Now the one whose data is already there. */
    send_random(&owners[quick]);
    tk_wait_readable(owners[quick].mine, TK_PROMPT_MS);
    DWORD error = quick_receive_start(owners[quick].mine, port, &owners[quick].op);
    if (error != 0)
        fail_msg("expected quick_receive_start to start a receive whose data was there (0); "
                 "it returned %lu", (unsigned long)error);
    /* Every packet to the owner its key names: count + 1 packets' worth of waiting at most. */
    int strangers = 0, handled = 0;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        GetQueuedCompletionStatus(port, &bytes, &key, &overlapped,
                                  handled < count ? TK_PROMPT_MS : QUIET_MS);
        if (overlapped == NULL)
            break;
        handled++;
        owner *o = NULL;
        for (int i = 0; i < count; i++)
            if ((ULONG_PTR)owners[i].mine == key)
                o = &owners[i];
        if (o == NULL) {
            strangers++;
            continue;
        }
        if (overlapped != &o->op.overlapped) {
            o->foreign++;
            continue;
        }
        if (o->got.packets < 4)
            o->got.bytes[o->got.packets] = bytes;
        o->got.packets++;
    }
    if (strangers != 0)
        fail_msg("expected every packet on the port to carry the key of one of the %d "
                 "sockets on it; %d carried another key", count, strangers);
    for (int i = 0; i < count; i++) {
        owner *o = &owners[i];
        const char *which = i == quick ? "the receive that found its data already there"
                                       : "a receive that waited for its data";
        if (o->foreign != 0)
            fail_msg("expected the packets with socket %d's key to name its receive's "
                     "OVERLAPPED; %d named another", i, o->foreign);
        if (o->got.packets != 1)
            fail_msg("expected each of the %d receives on one port to bring exactly one "
                     "packet to its owner (its socket's key, its OVERLAPPED); %s (socket %d "
                     "of %d) got %d within %d ms. %ld packet(s) of the other sockets were "
                     "already on the port when quick_receive_start was called for socket %d: "
                     "each belongs to its own socket's handler, and only there",
                     count, which, i, count, o->got.packets, TK_PROMPT_MS, others_queued,
                     quick);
        if (o->got.bytes[0] != (DWORD)o->length)
            fail_msg("expected the packet of %s (socket %d) to say %d bytes, the bytes its "
                     "peer sent; it said %lu", which, i, o->length,
                     (unsigned long)o->got.bytes[0]);
    }
    for (int i = 0; i < count; i++) {
        closesocket(owners[i].peer);
        closesocket(owners[i].mine);
    }
    CloseHandle(port);
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_receive_that_finishes_at_once_brings_exactly_one_packet),
        cmocka_unit_test(a_receive_that_waits_brings_exactly_one_packet),
        cmocka_unit_test(a_receive_that_fails_at_once_brings_no_packet),
        cmocka_unit_test(every_packet_on_a_shared_port_reaches_its_own_receive),
    };
    return CK_RUN_CHECKER("exercise 07.3", tests, tk_winsock_up, tk_winsock_down);
}
