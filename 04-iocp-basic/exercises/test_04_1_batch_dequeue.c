/* Checker of exercise 04.1 (extend): with --batch N, step04-server's workers dequeue up to
 * N packets per call with GetQueuedCompletionStatusEx. The checker runs the real program
 * with one worker under a burst of clients, so that packets pile up while the worker is
 * busy, checks every echo byte for byte, and reads the program's last report line:
 *   dequeued P packets in C calls, at most K in one call */
#include <stdio.h>
#include <string.h>

#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { CLIENTS = 200, ROUNDS = 5, MESSAGE = 1024 };

typedef struct dequeue_report {
    long packets, calls, largest;
} dequeue_report;

/* Starts step04-server with args; a usage error (the flag does not exist yet) fails with
 * what the program said. */
static unsigned short start_server(tk_process **p, const char *args)
{
    *p = tk_spawn("step04-server", args);
    char line[128];
    if (!tk_wait_for_line(*p, "listening on 127.0.0.1:", 20000, line, sizeof line))
        fail_msg("expected step04-server %s to start listening; it did not. It said:\n%s",
                 args, tk_stderr(*p));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "listening on 127.0.0.1:%u", &port), 1);
    return (unsigned short)port;
}

static dequeue_report read_report(tk_process *p)
{
    const char *at = strstr(tk_stdout(p), "dequeued ");
    dequeue_report r = {-1, -1, -1};
    if (at == NULL || sscanf(at, "dequeued %ld packets in %ld calls, at most %ld in one call",
                             &r.packets, &r.calls, &r.largest) != 3)
        fail_msg("expected step04-server to print \"dequeued P packets in C calls, at most K "
                 "in one call\" when it stops; its output was:\n%s",
                 tk_stdout(p));
    print_message("the server reported: %ld packets in %ld calls, at most %ld in one call\n",
                  r.packets, r.calls, r.largest);
    return r;
}

static void expect_clean_exit(tk_process *p)
{
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "live contexts at exit: 0"));
}

/* Every client sends a message, then every client reads its echo: while the one worker
 * handles a packet, the others pile up on the port. */
static void burst_of_echoes(unsigned short port)
{
    static SOCKET clients[CLIENTS];
    static unsigned char sent[MESSAGE], back[MESSAGE];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = net_connect_loopback(port);
        assert_true(clients[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(clients[i], TK_PROMPT_MS));
    }
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < CLIENTS; i++) {
            tk_fill_pattern(sent, MESSAGE, (unsigned)(round * CLIENTS + i));
            assert_true(net_send_all(clients[i], sent, MESSAGE));
        }
        for (int i = 0; i < CLIENTS; i++) {
            tk_fill_pattern(sent, MESSAGE, (unsigned)(round * CLIENTS + i));
            if (!net_recv_all(clients[i], back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0)
                fail_msg("expected client %d's %d bytes echoed byte for byte in round %d; "
                         "they were not", i, MESSAGE, round);
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        closesocket(clients[i]);
}

/* Runs the server with args through a burst of echoes to its clean exit; its report. */
static dequeue_report report_after_a_burst(const char *args)
{
    tk_process *p;
    unsigned short port = start_server(&p, args);
    burst_of_echoes(port);
    expect_clean_exit(p);
    dequeue_report r = read_report(p);
    tk_process_free(p);
    return r;
}

static void a_batch_of_16_takes_more_than_one_packet_per_call_under_load(void **state)
{
    (void)state;
    dequeue_report r = report_after_a_burst("--port 0 --seconds 3 --threads 1 --batch 16");
    if (r.largest < 2)
        fail_msg("expected at least one call to dequeue 2 or more packets under this load "
                 "(%d clients, one worker); the largest batch was %ld", CLIENTS, r.largest);
    if (r.largest > 16)
        fail_msg("expected at most 16 packets per call with --batch 16; one call took %ld",
                 r.largest);
    /* Every connection costs at least a receive and a send per round, and its end. */
    if (r.packets < (long)CLIENTS * (2 * ROUNDS + 1) || r.calls >= r.packets)
        fail_msg("expected at least %ld packets in fewer calls than packets; the server "
                 "counted %ld packets in %ld calls",
                 (long)CLIENTS * (2 * ROUNDS + 1), r.packets, r.calls);
}

static void a_batch_of_1_takes_one_packet_per_call(void **state)
{
    (void)state;
    dequeue_report r = report_after_a_burst("--port 0 --seconds 2 --threads 1 --batch 1");
    if (r.largest != 1 || r.calls != r.packets)
        fail_msg("expected one packet per call with --batch 1; the server counted %ld "
                 "packets in %ld calls, at most %ld in one", r.packets, r.calls, r.largest);
}

/* server_stop posts one quit packet per worker. With batches, one worker may take several
 * of them in one call: the others must still get theirs. */
static void several_batch_workers_all_stop(void **state)
{
    (void)state;
    for (int run = 0; run < 3; run++) {
        tk_process *p;
        start_server(&p, "--port 0 --seconds 1 --threads 4 --batch 16");
        print_message("run %d: expecting --threads 4 --batch 16 --seconds 1 to exit within "
                      "10 s. If it hangs: does every worker get a quit packet?\n", run + 1);
        assert_int_equal(tk_wait_exit(p, 10000), 0);
        assert_non_null(strstr(tk_stdout(p), "live contexts at exit: 0"));
        tk_process_free(p);
    }
}

static void a_batch_of_0_is_a_usage_error(void **state)
{
    (void)state;
    tk_process *p = tk_spawn("step04-server", "--port 0 --batch 0");
    assert_int_equal(tk_wait_exit(p, 20000), 2);
    assert_non_null(strstr(tk_stderr(p), "--batch"));
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_batch_of_16_takes_more_than_one_packet_per_call_under_load),
        cmocka_unit_test(a_batch_of_1_takes_one_packet_per_call),
        cmocka_unit_test(several_batch_workers_all_stop),
        cmocka_unit_test(a_batch_of_0_is_a_usage_error),
    };
    return cmocka_run_group_tests_name("exercise 04.1", tests, tk_winsock_up, tk_winsock_down);
}
