/* Checker of exercise 03.1 (predict): completion routines are queued to this thread; what
 * runs them, how many does one SleepEx run, and how long does it take? The checker runs
 * the scenario for real, twice, with numbers chosen at random each run (the seed is printed
 * first; TUTORIAL_SEED=N replays a run), and compares what it measured with the formulas
 * in prediction_03_1.txt. Right or wrong, it shows what it measured and why. */
#include <string.h>

#include "tutorial/checkkit.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { MAX_RECEIVES = 12 };

typedef struct counted_receive {
    WSAOVERLAPPED overlapped;
    int number; /* the order in which the receives were started */
    char buffer[16];
} counted_receive;

static volatile LONG routines_run;
static int run_order[MAX_RECEIVES]; /* run_order[k]: the number of the k-th routine to run */

static void CALLBACK count_routine(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped,
                                   DWORD flags)
{
    (void)error, (void)bytes, (void)flags;
    counted_receive *r = CONTAINING_RECORD(overlapped, counted_receive, overlapped);
    LONG k = InterlockedIncrement(&routines_run) - 1;
    if (k < MAX_RECEIVES)
        run_order[k] = r->number;
}

typedef struct measurement {
    int queued, timeout_ms;
    long run_during_sleep;    /* routines run while Sleep(timeout_ms) was going on */
    long run_by_one_sleepex;  /* routines run when the one SleepEx(timeout_ms, TRUE) returned */
    double sleepex_ms;        /* how long that SleepEx took */
    DWORD sleepex_result;
    bool in_order;            /* the routines ran in the order the receives were started */
} measurement;

static double now_ms(void)
{
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (double)count.QuadPart * 1000.0 / (double)frequency.QuadPart;
}

/* `queued` connections with bytes waiting; a receive on each finishes at once, so its
 * routine is queued to this thread before any wait begins. Then Sleep, then one SleepEx. */
static measurement run_the_scenario(int queued, int timeout_ms)
{
    SOCKET clients[MAX_RECEIVES], servers[MAX_RECEIVES];
    static counted_receive receives[MAX_RECEIVES];
    measurement m;
    memset(&m, 0, sizeof m);
    m.queued = queued;
    m.timeout_ms = timeout_ms;
    for (int i = 0; i < queued; i++) {
        tk_socket_pair(&clients[i], &servers[i]);
        assert_true(net_send_all(clients[i], "ready", 5));
        tk_wait_readable(servers[i], TK_PROMPT_MS);
    }
    routines_run = 0;
    for (int i = 0; i < queued; i++) {
        memset(&receives[i], 0, sizeof receives[i]);
        receives[i].number = i;
        WSABUF whole = {(ULONG)sizeof receives[i].buffer, receives[i].buffer};
        DWORD flags = 0;
        assert_int_equal(WSARecv(servers[i], &whole, 1, NULL, &flags, &receives[i].overlapped,
                                 count_routine),
                         0); /* finished at once: the routine is queued */
    }
    assert_int_equal(routines_run, 0); /* queued, not run: no alertable wait yet */

    Sleep((DWORD)timeout_ms); /* the scenario's first call, not a synchronisation */
    m.run_during_sleep = routines_run;

    double start = now_ms();
    m.sleepex_result = SleepEx((DWORD)timeout_ms, TRUE);
    m.sleepex_ms = now_ms() - start;
    m.run_by_one_sleepex = routines_run;
    m.in_order = true;
    for (long k = 0; k < m.run_by_one_sleepex && k < MAX_RECEIVES; k++)
        m.in_order = m.in_order && run_order[k] == (int)k;

    /* Let any routine left in the queue run before the buffers are used again. */
    while (SleepEx(0, TRUE) == WAIT_IO_COMPLETION)
        ;
    for (int i = 0; i < queued; i++) {
        closesocket(clients[i]);
        closesocket(servers[i]);
    }
    return m;
}

/* The learner's answer named name, for queued routines and a timeout of timeout_ms. */
static long predicted(const prediction *p, const char *name, int queued, int timeout_ms)
{
    long long inputs[2] = {queued, timeout_ms};
    return (long)ck_predicted(p, name, inputs);
}

/* Whether a predicted time for a SleepEx of timeout_ms says it returns at once (in under
 * half its timeout) or waits it out. */
static bool returns_early(double ms, int timeout_ms)
{
    return ms < timeout_ms / 2.0;
}

/* Whether the measured SleepEx returned at once: judged by why it woke, not by a clock a
 * loaded machine stretches. WAIT_IO_COMPLETION: it ran routines and returned; 0: its
 * timeout ran out. */
static bool returned_early(const measurement *m)
{
    return m->sleepex_result == WAIT_IO_COMPLETION;
}

static void the_predictions_match_what_one_alertable_wait_runs(void **state)
{
    (void)state;
    static const char *const queued_only[] = {"queued", NULL};
    static const char *const queued_and_timeout[] = {"queued", "timeout_ms", NULL};
    static const prediction_spec answers[] = {
        {"run_during_sleep", queued_only},
        {"run_by_one_sleepex", queued_only},
        {"sleepex_ms", queued_and_timeout},
    };
    prediction p;
    ck_read_prediction("prediction_03_1.txt", "03-apc/exercises/prediction_03_1.txt", answers,
                       3, &p);

    measurement rounds[2];
    rounds[0] = run_the_scenario(ck_random(2, 4), ck_random(300, 700));
    rounds[1] = run_the_scenario(ck_random(6, MAX_RECEIVES), ck_random(300, 700));

    bool sleep_right = true, sleepex_right = true, ms_right = true;
    for (int r = 0; r < 2; r++) {
        const measurement *m = &rounds[r];
        long during_sleep = predicted(&p, "run_during_sleep", m->queued, m->timeout_ms);
        long by_sleepex = predicted(&p, "run_by_one_sleepex", m->queued, m->timeout_ms);
        long ms = predicted(&p, "sleepex_ms", m->queued, m->timeout_ms);
        char result[32];
        print_message("measured: %d routines queued, timeout %d ms: %ld ran during Sleep (you "
                      "predicted %ld); %ld had run when the one SleepEx returned %s (you "
                      "predicted %ld), %s; it took %.0f ms (you predicted %ld)\n",
                      m->queued, m->timeout_ms, m->run_during_sleep, during_sleep,
                      m->run_by_one_sleepex,
                      tk_wait_result_name(m->sleepex_result, result, sizeof result),
                      by_sleepex,
                      m->in_order ? "in the order their receives were started"
                                  : "not in the order their receives were started",
                      m->sleepex_ms, ms);
        sleep_right = sleep_right && during_sleep == m->run_during_sleep;
        sleepex_right = sleepex_right && by_sleepex == m->run_by_one_sleepex;
        ms_right = ms_right && returns_early((double)ms, m->timeout_ms) == returned_early(m);
    }
    print_message("why: a completion routine is a user-mode APC, queued to the thread that "
                  "started the I/O. It runs only while that thread is in an alertable wait "
                  "(SleepEx, WaitForSingleObjectEx, ... with TRUE). Sleep is not alertable: "
                  "the routines stay in the queue for all of it.\n");
    print_message("why: once the thread waits alertably, it runs every APC in its queue, in "
                  "the order they came, and then the wait returns WAIT_IO_COMPLETION at once "
                  "(Microsoft's page on asynchronous procedure calls). The timeout bounds the "
                  "wait only while the queue is empty. So one alertable wait can run any "
                  "number of routines, and WAIT_IO_COMPLETION does not say how many.\n");
    if (!sleep_right || !sleepex_right || !ms_right)
        fail_msg("expected your predictions to match what was measured in both rounds: "
                 "routines run during Sleep %s, routines run by one SleepEx %s, its time "
                 "(at once, under half the timeout, or the whole timeout) %s",
                 sleep_right ? "match" : "do not", sleepex_right ? "match" : "do not",
                 ms_right ? "matches" : "does not");
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_predictions_match_what_one_alertable_wait_runs),
    };
    return CK_RUN_CHECKER("exercise 03.1", tests, tk_winsock_up, tk_winsock_down);
}
