/* edu_cpp_IOCP's send queue: when the send of the queue's head fails at once, no packet
 * comes to free it and send the next, and a new message is only sent when the queue was
 * empty. Built twice: as the tutorial has it (the queue stalls behind the failed head, and
 * all of it leaks) and with the fix (the failed head is freed at once, the next goes). */
#include <string.h>

#include "case_support.h"
#include "case_kit.h"
#include "edu_iocp_send.h"
#include "tutorial/fault_plan.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { SENT = 2, STUCK = 0 };
#else
enum { SENT = 0, STUCK = 3 };
#endif

static void a_send_that_fails_at_once_must_not_stall_the_queue(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_ALONE);
    long before = kit_live();
    char why[128];
    /* Windows may fail a send at once for want of buffers, and the connection lives on;
     * Wine does not do it on demand, so the plan does. */
    assert_true(fault_plan_set("send#1=fail:WSAENOBUFS", why, sizeof why));

    edu_client *c = edu_client_new(port, server);
    assert_non_null(c);
    assert_true(edu_send_msg(c, "one", 3)); /* fails at once */
    assert_true(edu_send_msg(c, "two", 3));
    assert_true(edu_send_msg(c, "three", 5));
    assert_int_equal(fault_plan_fired("send"), 1);

    /* The worker: every send packet that comes moves the queue on. */
    long packets = 0;
    OVERLAPPED *done;
    DWORD bytes, error;
    while (kit_dequeue(port, 300, &done, &bytes, &error)) {
        assert_int_equal(error, 0);
        edu_send_completed(c);
        packets++;
    }
    assert_int_equal(packets, SENT);
    assert_int_equal(c->queued, STUCK);

    /* What the peer got within a bound: "twothree", or nothing at all. */
    char got[16] = {0};
    assert_true(net_set_recv_timeout(client, 300));
    int received = 0, n;
    while (received < 8 && (n = recv(client, got + received, 8 - received, 0)) > 0)
        received += n;
#ifdef WITH_FIX
    assert_int_equal(received, 8);
    assert_memory_equal(got, "twothree", 8);
#else
    assert_int_equal(received, 0);
#endif

    edu_client_close(c);
    assert_int_equal(kit_live() - before, STUCK); /* the stalled messages, never freed */
    assert_true(fault_plan_set(NULL, why, sizeof why));
    CloseHandle(port);
    closesocket(client);
}

/* The same in both builds: with no failure, every message goes and every send is freed. */
static void sends_that_start_go_out_in_order(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_ALONE);
    long before = kit_live();

    edu_client *c = edu_client_new(port, server);
    assert_non_null(c);
    assert_true(edu_send_msg(c, "ab", 2));
    assert_true(edu_send_msg(c, "cd", 2));
    OVERLAPPED *done;
    DWORD bytes, error;
    for (int i = 0; i < 2; i++) {
        assert_true(kit_dequeue(port, TK_PROMPT_MS, &done, &bytes, &error));
        assert_int_equal(bytes, 2);
        edu_send_completed(c);
    }
    assert_int_equal(c->queued, 0);
    char got[4];
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    assert_true(net_recv_all(client, got, 4));
    assert_memory_equal(got, "abcd", 4);

    edu_client_close(c);
    assert_int_equal(kit_live(), before);
    CloseHandle(port);
    closesocket(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_send_that_fails_at_once_must_not_stall_the_queue),
        cmocka_unit_test(sends_that_start_go_out_in_order),
    };
    return cmocka_run_group_tests_name("edu_iocp_send", tests, tk_winsock_up, tk_winsock_down);
}
