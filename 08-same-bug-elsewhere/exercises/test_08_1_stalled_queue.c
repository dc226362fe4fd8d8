/* Checker of exercise 08.1 (predict): what a send that fails at once does to
 * edu_cpp_IOCP's send queue, measured on the reduction as it was (step08_edu_iocp_send)
 * and compared with prediction_08_1.txt. */
#include "case_kit.h"
#include "edu_iocp_send.h"
#include "tutorial/fault_plan.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"
#include "tutorial/checkkit.h"

typedef struct measured {
    long packets;
    int bytes;
    long queued;
} measured;

/* Queues the messages, runs the worker until no packet comes for 300 ms, then reads what
 * reached the peer within 300 ms more. */
static measured run(const char *plan, const char *const *messages, int count,
                    const char *late_message)
{
    char why[128];
    SOCKET peer, mine;
    tk_socket_pair(&peer, &mine);
    HANDLE port = kit_port(NULL, 0);
    assert_non_null(port);
    assert_true(fault_plan_set(plan, why, sizeof why));
    edu_client *c = edu_client_new(port, mine);
    assert_non_null(c);

    measured m = {0, 0, 0};
    for (int i = 0; i < count; i++)
        assert_true(edu_send_msg(c, messages[i], 2));
    OVERLAPPED *done;
    DWORD bytes, error;
    while (kit_dequeue(port, 300, &done, &bytes, &error)) {
        edu_send_completed(c);
        m.packets++;
    }
    if (late_message != NULL) {
        assert_true(edu_send_msg(c, late_message, 2));
        while (kit_dequeue(port, 300, &done, &bytes, &error)) {
            edu_send_completed(c);
            m.packets++;
        }
    }
    assert_int_equal(fault_plan_fired("send"), 1);
    m.queued = c->queued;
    char got[16];
    int n;
    assert_true(net_set_recv_timeout(peer, 300));
    while (m.bytes < (int)sizeof got &&
           (n = recv(peer, got + m.bytes, (int)sizeof got - m.bytes, 0)) > 0)
        m.bytes += n;

    edu_client_close(c); /* what is still queued stays allocated, as in the original */
    assert_true(fault_plan_set(NULL, why, sizeof why));
    CloseHandle(port);
    closesocket(peer);
    return m;
}

static const char *const three[] = {"ab", "cd", "ef"};

/* The learner's answer named name, from prediction_08_1.txt. */
static long predicted(const char *name)
{
    static const prediction_spec answers[] = {
        {"send_packets", NULL},
        {"bytes_received", NULL},
        {"still_queued", NULL},
        {"bytes_when_the_first_fails", NULL},
    };
    prediction p;
    ck_read_prediction("prediction_08_1.txt",
                       "08-same-bug-elsewhere/exercises/prediction_08_1.txt", answers, 4, &p);
    return (long)ck_predicted(&p, name, NULL);
}

static void part_1_the_second_send_fails_at_once(void **state)
{
    (void)state;
    long packets = predicted("send_packets"), bytes = predicted("bytes_received"),
         queued = predicted("still_queued");
    measured m = run("send#2=fail:WSAENOBUFS", three, 3, NULL);
    print_message("measured: %ld send packet(s), %d byte(s) received, %ld message(s) still "
                  "queued\n", m.packets, m.bytes, m.queued);
    if (m.packets != packets || m.bytes != bytes || m.queued != queued)
        fail_msg("expected your prediction to match: you predicted %ld packet(s), %ld "
                 "byte(s), %ld queued; measured %ld, %d, %ld. A WSASend that fails at once "
                 "brings no packet: which code frees that message then, and which call "
                 "would ever send what waits behind it?",
                 packets, bytes, queued, m.packets, m.bytes, m.queued);
}

static void part_2_the_first_send_fails_at_once(void **state)
{
    (void)state;
    long bytes = predicted("bytes_when_the_first_fails");
    measured m = run("send#1=fail:WSAENOBUFS", three, 3, "gh");
    print_message("measured: %d byte(s) received, %ld message(s) still queued\n", m.bytes,
                  m.queued);
    if (m.bytes != bytes)
        fail_msg("expected your prediction to match: you predicted %ld byte(s) in all; "
                 "measured %d. A new message is sent at once only when the queue was empty: "
                 "after a failure at once, is it ever empty again?",
                 bytes, m.bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(part_1_the_second_send_fails_at_once),
        cmocka_unit_test(part_2_the_first_send_fails_at_once),
    };
    return CK_RUN_CHECKER("exercise 08.1", tests, tk_winsock_up,
                                       tk_winsock_down);
}
