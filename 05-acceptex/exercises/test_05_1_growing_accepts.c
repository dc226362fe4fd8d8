/* Checker of exercise 05.1 (extend): with --max-accepts M, step05-server posts more
 * AcceptEx calls when a burst of clients finds none waiting, up to M in all. The checker
 * runs the real program, and counts the accepts the way the program itself reports them:
 * once every client has gone, each AcceptEx still waiting comes back aborted when the
 * server stops, so "operations aborted at shutdown: N" is the number of accepts that go
 * round at the end. */
#include <stdio.h>
#include <string.h>

#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { CLIENTS = 200, MESSAGE = 512 };

/* Starts step05-server with args; a usage error (the flag does not exist yet) fails with
 * what the program said. */
static unsigned short start_server(tk_process **p, const char *args)
{
    *p = tk_spawn("step05-server", args);
    char line[128];
    if (!tk_wait_for_line(*p, "listening on 127.0.0.1:", 20000, line, sizeof line))
        fail_msg("expected step05-server %s to start listening; it did not. It said:\n%s",
                 args, tk_stderr(*p));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "listening on 127.0.0.1:%u", &port), 1);
    return (unsigned short)port;
}

/* Waits for the program to end cleanly; returns the accepts that went round at the end. */
static long accepts_at_the_end(tk_process *p, long clients)
{
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    const char *out = tk_stdout(p);
    char served[64];
    snprintf(served, sizeof served, "%ld accepted, %ld closed", clients, clients);
    if (strstr(out, served) == NULL || strstr(out, "live contexts at exit: 0") == NULL)
        fail_msg("expected \"%s\" and \"live contexts at exit: 0\"; the server said:\n%s",
                 served, out);
    const char *at = strstr(out, "operations aborted at shutdown: ");
    long aborted = -1;
    assert_non_null(at);
    assert_int_equal(sscanf(at, "operations aborted at shutdown: %ld", &aborted), 1);
    print_message("accepts waiting when the server stopped: %ld\n", aborted);
    return aborted;
}

/* CLIENTS connect at once (a connect completes in the TCP backlog, before any AcceptEx
 * takes it), then each echoes one message and closes; the checker waits until the server
 * has closed every connection, so nothing but accepts is pending when it stops. */
static void burst_of_clients(unsigned short port)
{
    static SOCKET clients[CLIENTS];
    static unsigned char sent[MESSAGE], back[MESSAGE];
    DWORD start = GetTickCount();
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = net_connect_loopback(port);
        assert_true(clients[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(clients[i], TK_PROMPT_MS));
    }
    for (int i = 0; i < CLIENTS; i++) {
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        assert_true(net_send_all(clients[i], sent, MESSAGE));
        assert_int_equal(shutdown(clients[i], SD_SEND), 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        char end;
        if (!net_recv_all(clients[i], back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0 ||
            recv(clients[i], &end, 1, 0) != 0)
            fail_msg("expected client %d's %d bytes echoed, then the server's close; they "
                     "did not come within %d ms", i, MESSAGE, TK_PROMPT_MS);
        closesocket(clients[i]);
    }
    print_message("%d clients served in %lu ms\n", CLIENTS,
                  (unsigned long)(GetTickCount() - start));
}

/* Runs the server with args through a burst of clients; the accepts waiting at the end. */
static long accepts_after_a_burst(const char *args)
{
    tk_process *p;
    unsigned short port = start_server(&p, args);
    burst_of_clients(port);
    long accepts = accepts_at_the_end(p, CLIENTS);
    tk_process_free(p);
    return accepts;
}

static void a_burst_makes_one_accept_grow_to_several(void **state)
{
    (void)state;
    long accepts = accepts_after_a_burst("--port 0 --seconds 3 --threads 2 --accepts 1 --max-accepts 16");
    if (accepts < 2)
        fail_msg("expected the burst of %d clients to make the server post more AcceptEx "
                 "calls than the one it started with; %ld were waiting at the end",
                 CLIENTS, accepts);
    if (accepts > 16)
        fail_msg("expected at most 16 accepts (--max-accepts 16); %ld were waiting at the "
                 "end", accepts);
}

/* Uncapped, this burst makes the accepts grow past 2 (we measured 3 under Wine 8). */
static void the_accepts_never_grow_past_the_maximum(void **state)
{
    (void)state;
    long accepts = accepts_after_a_burst("--port 0 --seconds 3 --threads 2 --accepts 1 --max-accepts 2");
    if (accepts != 2)
        fail_msg("expected exactly 2 accepts at the end with --accepts 1 --max-accepts 2 "
                 "after a burst; %ld were waiting", accepts);
}

static void without_clients_the_accepts_stay_as_many_as_at_the_start(void **state)
{
    (void)state;
    tk_process *p;
    start_server(&p, "--port 0 --seconds 1 --accepts 2 --max-accepts 16");
    long accepts = accepts_at_the_end(p, 0);
    if (accepts != 2)
        fail_msg("expected the 2 accepts of --accepts 2 to stay 2 while no client comes; "
                 "%ld were waiting at the end", accepts);
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_burst_makes_one_accept_grow_to_several),
        cmocka_unit_test(the_accepts_never_grow_past_the_maximum),
        cmocka_unit_test(without_clients_the_accepts_stay_as_many_as_at_the_start),
    };
    return cmocka_run_group_tests_name("exercise 05.1", tests, tk_winsock_up, tk_winsock_down);
}
