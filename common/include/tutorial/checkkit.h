/* What exercise checkers need beyond the test kit: a random seed per run (so that no
 * constant passes by luck, and a failing run can be replayed), and a look at the threads a
 * piece of code started and what they do while nothing happens (an idle server must be
 * asleep in a wait, not polling). */
#ifndef TUTORIAL_CHECKKIT_H
#define TUTORIAL_CHECKKIT_H

#include <stdbool.h>
#include <winsock2.h>
#include <windows.h>

#include "tutorial/prediction.h"
#include "tutorial/testkit.h" /* cmocka */

/* A predict exercise's answers (tutorial/prediction.h). The build copies the learner's
 * prediction file next to the checker as file (e.g. "prediction_06_1.txt"); source is where
 * the learner edits it. A file that is not a prediction fails the test, saying what is wrong
 * and what the file must hold. */
void ck_read_prediction(const char *file, const char *source, const prediction_spec *spec,
                        int count, prediction *out);

/* The answer name, with the values of its inputs in its spec's order (NULL for a plain
 * number). A formula that cannot be computed with them fails the test. */
long long ck_predicted(const prediction *p, const char *name, const long long *values);

/* The run's seed: TUTORIAL_SEED from the environment when it is set (to replay a run),
 * else one from the clock. The first call prints it: "seed: N (TUTORIAL_SEED=N replays
 * this run)". */
unsigned ck_seed(void);

/* The run's next number in [low, high], from a sequence that starts at ck_seed(). */
int ck_random(int low, int high);

/* Runs a checker's tests, as cmocka_run_group_tests_name does, and then, when every test
 * passed, prints the verdict line the harness reads: "verdict: KEY passed N". KEY is the one
 * the harness drew for this run and handed over in TUTORIAL_VERDICT_KEY, which is removed
 * from the environment before the first test runs. cmocka's own lines prove nothing: the
 * code under test shares the checker's output and could print them and exit; it cannot
 * print this line without the key, and a program that ends before its tests have run
 * prints no verdict at all. */
int ck_run_checker(const char *name, const struct CMUnitTest *tests, size_t count,
                   CMFixtureFunction setup, CMFixtureFunction teardown);
#define CK_RUN_CHECKER(name, tests, setup, teardown)                                     \
    ck_run_checker(name, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

enum { CK_MAX_THREADS = 1024 };

/* The ids of some threads of this process. */
typedef struct ck_threads {
    DWORD ids[CK_MAX_THREADS];
    int count;
} ck_threads;

/* Every thread of this process now (a Toolhelp snapshot). */
void ck_list_threads(ck_threads *list);

/* The threads of this process now that were not in *before: the ones started since. */
void ck_threads_born_since(const ck_threads *before, ck_threads *born);

bool ck_threads_contain(const ck_threads *list, DWORD id);

/* The CPU time (user + kernel, in ms) that the threads of *set use over the next quiet_ms,
 * while the calling thread sleeps. A thread asleep in a wait uses none; one that wakes
 * every millisecond to look (Sleep(1), a zero timeout) uses some in every second. The
 * clock that counts it ticks in steps of 10 ms under Wine, 15.6 ms on Windows, and a
 * thread is charged a whole tick whenever its time crosses one, however little it used. */
double ck_cpu_ms_over(const ck_threads *set, DWORD quiet_ms);

/* From now on, watch every wait this program's code makes (tutorial/import_hook.h): calls
 * to Sleep, SleepEx, the WaitFor... functions, WSAWaitForMultipleEvents,
 * SleepConditionVariableCS/SRW and select with a timeout above 0 (a timeout of 0 is a look,
 * not a wait), and a blocking recv whose receive timeout runs out. For each thread it
 * records what the thread waits on now, how often it woke up, and how often it woke because
 * the time ran out rather than for something it waited for. A thread that waits for what it
 * needs wakes when there is work; one that polls wakes on its timeout, whatever the
 * timeout's length. Call it once, before the code under test starts its threads. */
void ck_watch_waits(void);

/* The handles thread is waiting on now (up to max of them into handles), and how many;
 * -1 when it is not inside a watched wait. Sleep, select and condition variables wait on
 * no handle: 0. The wait's timeout goes to *timeout_ms (INFINITE: none) unless it is NULL. */
int ck_thread_waits_on(DWORD thread, HANDLE *handles, int max, DWORD *timeout_ms);

/* The same for the thread's latest wait, whether it still waits or has woken since (a
 * thread that looks around every 100 ms is caught between two waits as often as not);
 * -1 when none of its waits has been seen, 0 when the only ones were on no handle. */
int ck_thread_last_wait(DWORD thread, HANDLE *handles, int max, DWORD *timeout_ms);

/* What some threads did over a quiet interval, while the calling thread slept. The counts
 * are 0 without ck_watch_waits. */
typedef struct ck_quiet {
    DWORD ms;      /* the interval                                                   */
    int threads;   /* how many threads the set has                                   */
    double cpu_ms; /* CPU time the threads of the set used in it                     */
    long wakeups;  /* returns from their waits in it, whatever the timeout           */
    long timeouts; /* of those, returns because the wait's time ran out              */
    long naps;     /* waits they began in it with a timeout under CK_NAP_UNDER_MS    */
} ck_quiet;

ck_quiet ck_watch_quiet(const ck_threads *set, DWORD quiet_ms);

/* The clock that counts CPU time counts in ticks (ck_cpu_ms_over): a thread that wakes a
 * few times a second uses a millisecond or two but may be charged a tick for it; a thread
 * that spins is charged hundreds of milliseconds. 32 ms is two ticks on Windows, three
 * under Wine. */
enum { CK_ASLEEP_CPU_MS = 32, CK_NAP_UNDER_MS = 100 };

/* Asleep, though it may look around now and then: under CK_ASLEEP_CPU_MS of CPU per
 * thread of the set, and fewer than 5 waits a second shorter than CK_NAP_UNDER_MS. For a
 * design that polls on purpose: steps 02 and 03 wait at most 100 ms for an FD_ACCEPT that
 * Wine 8 can lose. */
bool ck_quiet_is_asleep(const ck_quiet *quiet);

/* Slept through the interval, waiting for work: under CK_ASLEEP_CPU_MS of CPU per thread,
 * not one wait that ended because its time ran out (a poll, however long its timeout), and
 * at most CK_WAKEUPS_FOR_WORK_ENDING wake-ups per thread for work that was finishing as the
 * interval began (a send's completion routine, say). */
enum { CK_WAKEUPS_FOR_WORK_ENDING = 2 };
bool ck_quiet_slept_through(const ck_quiet *quiet);

#endif
