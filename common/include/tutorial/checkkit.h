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

/* From now on, count every "nap": a call this program's code makes to Sleep, SleepEx, a
 * WaitFor... function, WSAWaitForMultipleEvents, SleepConditionVariableCS or select with a
 * timeout above 0 (a look) and under CK_NAP_UNDER_MS. A thread that polls naps hundreds of
 * times a second; one that waits for what it needs does not nap at all. A longer timeout is
 * a safety net, not a poll: steps 02 and 03 wait at most 100 ms for an FD_ACCEPT that Wine 8
 * can lose. Call it once, before the code under test starts its threads
 * (tutorial/import_hook.h). */
enum { CK_NAP_UNDER_MS = 100 };
void ck_count_naps(void);

/* What some threads did over a quiet interval, while the calling thread slept. */
typedef struct ck_quiet {
    DWORD ms;      /* the interval                                               */
    int threads;   /* how many threads the set has                               */
    double cpu_ms; /* CPU time the threads of the set used in it                 */
    long naps;     /* naps made in it by every thread but the caller's (0 without
                    * ck_count_naps)                                            */
} ck_quiet;

ck_quiet ck_watch_quiet(const ck_threads *set, DWORD quiet_ms);

/* Asleep the whole time: fewer than 5 naps a second, and under CK_ASLEEP_CPU_MS of CPU
 * per thread of the set. The clock counts in ticks (ck_cpu_ms_over): a thread that wakes
 * a few times a second for a look, as a 100 ms timeout for Wine does, uses a millisecond
 * or two but may be charged a tick for it; a thread that spins is charged hundreds of
 * milliseconds. 32 ms is two ticks on Windows, three under Wine. */
enum { CK_ASLEEP_CPU_MS = 32 };
bool ck_quiet_is_asleep(const ck_quiet *quiet);

#endif
