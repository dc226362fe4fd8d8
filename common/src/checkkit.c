#include "tutorial/testkit.h"
#include "tutorial/checkkit.h"
#include "tutorial/import_hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlhelp32.h> /* after windows.h */

static unsigned run_seed;
static bool seeded;
static unsigned sequence;

int ck_run_checker(const char *name, const struct CMUnitTest *tests, size_t count,
                   CMFixtureFunction setup, CMFixtureFunction teardown)
{
    char key[64] = "";
    DWORD length = GetEnvironmentVariableA("TUTORIAL_VERDICT_KEY", key, sizeof key);
    if (length >= sizeof key)
        key[0] = '\0'; /* not a key the harness drew */
    SetEnvironmentVariableA("TUTORIAL_VERDICT_KEY", NULL); /* gone before any test runs */
    int failed = _cmocka_run_group_tests(name, tests, count, setup, teardown);
    if (failed == 0 && key[0] != '\0')
        printf("verdict: %s passed %u\n", key, (unsigned)count);
    fflush(stdout);
    return failed;
}

void ck_read_prediction(const char *file, const char *source, const prediction_spec *spec,
                        int count, prediction *out)
{
    char path[MAX_PATH + 64];
    DWORD length = GetModuleFileNameA(NULL, path, MAX_PATH);
    assert_true(length > 0 && length < MAX_PATH);
    char *slash = strrchr(path, '\\');
    if (slash == NULL)
        slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", file);
    char why[600];
    if (!prediction_read(path, source, spec, count, out, why, sizeof why))
        fail_msg("%s. A prediction file holds only your answers, one a line, such as "
                 "\"leaked_sockets = 9\" (or a formula of the inputs the file names), and "
                 "comments starting with #.", why);
}

long long ck_predicted(const prediction *p, const char *name, const long long *values)
{
    long long result = 0;
    char why[400];
    if (!prediction_value(p, name, values, &result, why, sizeof why))
        fail_msg("your prediction %s", why);
    return result;
}

unsigned ck_seed(void)
{
    if (!seeded) {
        char text[32];
        DWORD length = GetEnvironmentVariableA("TUTORIAL_SEED", text, sizeof text);
        if (length > 0 && length < sizeof text)
            run_seed = (unsigned)strtoul(text, NULL, 10);
        else
            run_seed = (unsigned)(GetTickCount64() ^ ((ULONGLONG)GetCurrentProcessId() << 16));
        if (run_seed == 0)
            run_seed = 1; /* xorshift stays at 0 forever */
        sequence = run_seed;
        seeded = true;
        print_message("seed: %u (TUTORIAL_SEED=%u replays this run)\n", run_seed, run_seed);
    }
    return run_seed;
}

int ck_random(int low, int high)
{
    ck_seed();
    sequence ^= sequence << 13, sequence ^= sequence >> 17, sequence ^= sequence << 5;
    return low + (int)(sequence % (unsigned)(high - low + 1));
}

void ck_list_threads(ck_threads *list)
{
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    assert_true(snapshot != INVALID_HANDLE_VALUE);
    DWORD self = GetCurrentProcessId();
    THREADENTRY32 entry;
    entry.dwSize = sizeof entry;
    list->count = 0;
    for (BOOL more = Thread32First(snapshot, &entry); more;
         more = Thread32Next(snapshot, &entry)) {
        if (entry.th32OwnerProcessID == self && list->count < CK_MAX_THREADS)
            list->ids[list->count++] = entry.th32ThreadID;
    }
    CloseHandle(snapshot);
}

bool ck_threads_contain(const ck_threads *list, DWORD id)
{
    for (int i = 0; i < list->count; i++) {
        if (list->ids[i] == id)
            return true;
    }
    return false;
}

void ck_threads_born_since(const ck_threads *before, ck_threads *born)
{
    static ck_threads now;
    ck_list_threads(&now);
    born->count = 0;
    for (int i = 0; i < now.count; i++) {
        if (!ck_threads_contain(before, now.ids[i]))
            born->ids[born->count++] = now.ids[i];
    }
}

static ULONGLONG cpu_time_of(HANDLE thread)
{
    FILETIME created, exited, kernel, user;
    if (!GetThreadTimes(thread, &created, &exited, &kernel, &user))
        return 0;
    ULARGE_INTEGER k = {{kernel.dwLowDateTime, kernel.dwHighDateTime}};
    ULARGE_INTEGER u = {{user.dwLowDateTime, user.dwHighDateTime}};
    return k.QuadPart + u.QuadPart; /* in 100 ns units */
}

/* ---- naps ---------------------------------------------------------------------------- */

static volatile LONG naps;
static volatile LONG watcher; /* the thread that watches: its own sleep is no nap */

static void count_nap(DWORD timeout_ms)
{
    if (timeout_ms != 0 && timeout_ms < CK_NAP_UNDER_MS &&
        GetCurrentThreadId() != (DWORD)InterlockedCompareExchange(&watcher, 0, 0))
        InterlockedIncrement(&naps);
}

typedef void(WINAPI *sleep_function)(DWORD);
typedef DWORD(WINAPI *sleep_ex_function)(DWORD, BOOL);
typedef DWORD(WINAPI *wait_one_function)(HANDLE, DWORD);
typedef DWORD(WINAPI *wait_one_ex_function)(HANDLE, DWORD, BOOL);
typedef DWORD(WINAPI *wait_many_function)(DWORD, const HANDLE *, BOOL, DWORD);
typedef DWORD(WINAPI *wait_many_ex_function)(DWORD, const HANDLE *, BOOL, DWORD, BOOL);
typedef DWORD(WSAAPI *wsa_wait_function)(DWORD, const WSAEVENT *, BOOL, DWORD, BOOL);
typedef BOOL(WINAPI *sleep_cv_function)(PCONDITION_VARIABLE, PCRITICAL_SECTION, DWORD);
typedef int(WSAAPI *select_function)(int, fd_set *, fd_set *, fd_set *, const struct timeval *);

static sleep_function real_sleep;
static sleep_ex_function real_sleep_ex;
static wait_one_function real_wait_one;
static wait_one_ex_function real_wait_one_ex;
static wait_many_function real_wait_many;
static wait_many_ex_function real_wait_many_ex;
static wsa_wait_function real_wsa_wait;
static sleep_cv_function real_sleep_cv;
static select_function real_select;

static void WINAPI counted_sleep(DWORD ms)
{
    count_nap(ms);
    real_sleep(ms);
}

static DWORD WINAPI counted_sleep_ex(DWORD ms, BOOL alertable)
{
    count_nap(ms);
    return real_sleep_ex(ms, alertable);
}

static DWORD WINAPI counted_wait_one(HANDLE h, DWORD ms)
{
    count_nap(ms);
    return real_wait_one(h, ms);
}

static DWORD WINAPI counted_wait_one_ex(HANDLE h, DWORD ms, BOOL alertable)
{
    count_nap(ms);
    return real_wait_one_ex(h, ms, alertable);
}

static DWORD WINAPI counted_wait_many(DWORD n, const HANDLE *h, BOOL all, DWORD ms)
{
    count_nap(ms);
    return real_wait_many(n, h, all, ms);
}

static DWORD WINAPI counted_wait_many_ex(DWORD n, const HANDLE *h, BOOL all, DWORD ms,
                                         BOOL alertable)
{
    count_nap(ms);
    return real_wait_many_ex(n, h, all, ms, alertable);
}

static DWORD WSAAPI counted_wsa_wait(DWORD n, const WSAEVENT *events, BOOL all, DWORD ms,
                                     BOOL alertable)
{
    count_nap(ms);
    return real_wsa_wait(n, events, all, ms, alertable);
}

static BOOL WINAPI counted_sleep_cv(PCONDITION_VARIABLE cv, PCRITICAL_SECTION cs, DWORD ms)
{
    count_nap(ms);
    return real_sleep_cv(cv, cs, ms);
}

static int WSAAPI counted_select(int n, fd_set *r, fd_set *w, fd_set *e,
                                 const struct timeval *timeout)
{
    if (timeout != NULL)
        count_nap((DWORD)timeout->tv_sec * 1000 + (DWORD)timeout->tv_usec / 1000 +
                  (timeout->tv_usec % 1000 != 0));
    return real_select(n, r, w, e, timeout);
}

/* Through tk_function, void (*)(void): the one cast between function types compilers
 * accept. A function the program does not import is not hooked: nothing calls it. */
#define HOOK(name, real, counted, type) \
    (real = (type)tk_hook_import(name, (tk_function)(counted)))

void ck_count_naps(void)
{
    static bool hooked;
    if (hooked)
        return;
    hooked = true;
    HOOK("Sleep", real_sleep, counted_sleep, sleep_function);
    HOOK("SleepEx", real_sleep_ex, counted_sleep_ex, sleep_ex_function);
    HOOK("WaitForSingleObject", real_wait_one, counted_wait_one, wait_one_function);
    HOOK("WaitForSingleObjectEx", real_wait_one_ex, counted_wait_one_ex, wait_one_ex_function);
    HOOK("WaitForMultipleObjects", real_wait_many, counted_wait_many, wait_many_function);
    HOOK("WaitForMultipleObjectsEx", real_wait_many_ex, counted_wait_many_ex,
         wait_many_ex_function);
    HOOK("WSAWaitForMultipleEvents", real_wsa_wait, counted_wsa_wait, wsa_wait_function);
    HOOK("SleepConditionVariableCS", real_sleep_cv, counted_sleep_cv, sleep_cv_function);
    HOOK("select", real_select, counted_select, select_function);
}

ck_quiet ck_watch_quiet(const ck_threads *set, DWORD quiet_ms)
{
    InterlockedExchange(&watcher, (LONG)GetCurrentThreadId());
    LONG naps_before = InterlockedCompareExchange(&naps, 0, 0);
    ck_quiet quiet;
    quiet.ms = quiet_ms;
    quiet.threads = set->count;
    quiet.cpu_ms = ck_cpu_ms_over(set, quiet_ms);
    quiet.naps = InterlockedCompareExchange(&naps, 0, 0) - naps_before;
    InterlockedExchange(&watcher, 0);
    return quiet;
}

bool ck_quiet_is_asleep(const ck_quiet *quiet)
{
    int threads = quiet->threads > 1 ? quiet->threads : 1;
    return quiet->cpu_ms < (double)CK_ASLEEP_CPU_MS * threads &&
           quiet->naps * 1000 < 5 * (long)quiet->ms;
}

/* ---- CPU time ------------------------------------------------------------------------ */

double ck_cpu_ms_over(const ck_threads *set, DWORD quiet_ms)
{
    static HANDLE threads[CK_MAX_THREADS];
    static ULONGLONG before[CK_MAX_THREADS];
    for (int i = 0; i < set->count; i++) {
        threads[i] = OpenThread(THREAD_QUERY_LIMITED_INFORMATION, FALSE, set->ids[i]);
        before[i] = threads[i] != NULL ? cpu_time_of(threads[i]) : 0;
    }
    Sleep(quiet_ms); /* the quiet interval itself: nothing is awaited here */
    ULONGLONG used = 0;
    for (int i = 0; i < set->count; i++) {
        if (threads[i] == NULL)
            continue; /* it had ended already */
        used += cpu_time_of(threads[i]) - before[i];
        CloseHandle(threads[i]);
    }
    return (double)used / 10000.0;
}
