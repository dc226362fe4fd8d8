/* Checker of exercise 07.3 (find the bug): every receive that quick_receive_start reports
 * as started must bring exactly one completion packet, and one that failed at once none.
 * The checker only counts packets, so a second one touches nothing; the data's lengths
 * are picked per run (the seed is printed). */
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

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_receive_that_finishes_at_once_brings_exactly_one_packet),
        cmocka_unit_test(a_receive_that_waits_brings_exactly_one_packet),
        cmocka_unit_test(a_receive_that_fails_at_once_brings_no_packet),
    };
    return CK_RUN_CHECKER("exercise 07.3", tests, tk_winsock_up, tk_winsock_down);
}
