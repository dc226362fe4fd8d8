/* Checker of exercise 03.1 (predict): five completion routines are queued to this thread;
 * how many of them does one SleepEx(0, TRUE) run? The checker runs the scenario for real
 * and compares what it measured with the number in prediction_03_1.h. */
#include <string.h>

#include "prediction_03_1.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { RECEIVES = 5 };

typedef struct counted_receive {
    WSAOVERLAPPED overlapped;
    char buffer[16];
} counted_receive;

static volatile LONG routines_run;

static void CALLBACK count_routine(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped,
                                   DWORD flags)
{
    (void)error, (void)bytes, (void)overlapped, (void)flags;
    InterlockedIncrement(&routines_run);
}

/* Five connections with bytes waiting; a receive on each finishes at once, so its routine
 * is queued to this thread before the wait begins. Returns how many routines one
 * SleepEx(0, TRUE) ran. */
static long routines_run_by_one_alertable_wait(void)
{
    SOCKET clients[RECEIVES], servers[RECEIVES];
    counted_receive receives[RECEIVES];
    for (int i = 0; i < RECEIVES; i++) {
        tk_socket_pair(&clients[i], &servers[i]);
        assert_true(net_send_all(clients[i], "ready", 5));
        tk_wait_readable(servers[i], TK_PROMPT_MS);
    }
    routines_run = 0;
    for (int i = 0; i < RECEIVES; i++) {
        memset(&receives[i], 0, sizeof receives[i]);
        WSABUF whole = {(ULONG)sizeof receives[i].buffer, receives[i].buffer};
        DWORD flags = 0;
        assert_int_equal(WSARecv(servers[i], &whole, 1, NULL, &flags, &receives[i].overlapped,
                                 count_routine),
                         0); /* finished at once: the routine is queued */
    }
    assert_int_equal(routines_run, 0); /* queued, not run: no alertable wait yet */

    tk_assert_wait(SleepEx(0, TRUE), WAIT_IO_COMPLETION);
    long measured = routines_run;

    /* Let any routine left in the queue run before the buffers go out of scope. */
    while (SleepEx(0, TRUE) == WAIT_IO_COMPLETION)
        ;
    for (int i = 0; i < RECEIVES; i++) {
        closesocket(clients[i]);
        closesocket(servers[i]);
    }
    return measured;
}

static void the_prediction_matches_what_one_alertable_wait_runs(void **state)
{
    (void)state;
    long predicted = PREDICTED_ROUTINES_RUN_BY_ONE_SLEEPEX;
    if (predicted < 0)
        fail_msg("expected a prediction in 03-apc/exercises/prediction_03_1.h; "
                 "PREDICTED_ROUTINES_RUN_BY_ONE_SLEEPEX is still -1");
    long measured = routines_run_by_one_alertable_wait();
    if (predicted != measured)
        fail_msg("expected your prediction to match: you predicted %ld routine(s), but one "
                 "SleepEx(0, TRUE) ran %ld of the %d queued. Why?",
                 predicted, measured, RECEIVES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_prediction_matches_what_one_alertable_wait_runs),
    };
    return cmocka_run_group_tests_name("exercise 03.1", tests, tk_winsock_up, tk_winsock_down);
}
