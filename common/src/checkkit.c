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

/* ---- waits --------------------------------------------------------------------------- */

/* One row per thread that has waited: written only by that thread, read by the watcher.
 * The table is open addressing on the thread id; a row, once claimed, stays its thread's. */
typedef struct thread_waits {
    volatile LONG id;        /* 0: a free row */
    volatile LONG wakeups;   /* returns from a wait with a timeout above 0           */
    volatile LONG timeouts;  /* of those, returns because the time ran out            */
    volatile LONG naps;      /* waits with a timeout above 0 and under CK_NAP_UNDER_MS */
    volatile LONG waiting;   /* in a wait now                                         */
    volatile LONG handles;   /* how many handles that wait (or the latest) is on      */
    volatile LONG timeout;   /* and its timeout, in ms (INFINITE: none)               */
    HANDLE handle[MAXIMUM_WAIT_OBJECTS];
} thread_waits;

enum { WAIT_ROWS = 4096 };
static thread_waits rows[WAIT_ROWS];

static thread_waits *row_of(DWORD id, bool claim)
{
    for (DWORD i = 0; i < WAIT_ROWS; i++) {
        thread_waits *row = &rows[(id / 4 + i) % WAIT_ROWS];
        LONG owner = InterlockedCompareExchange(&row->id, 0, 0);
        if (owner == (LONG)id)
            return row;
        if (owner == 0) {
            if (!claim)
                return NULL;
            owner = InterlockedCompareExchange(&row->id, (LONG)id, 0);
            if (owner == 0 || owner == (LONG)id)
                return row;
        }
    }
    return NULL; /* more threads than rows: not watched */
}

/* Before a wait: what it is on. A timeout of 0 is a look, not a wait: not recorded. */
static thread_waits *wait_begins(DWORD count, const HANDLE *handles, DWORD timeout_ms)
{
    if (timeout_ms == 0)
        return NULL;
    DWORD saved_error = GetLastError();
    thread_waits *row = row_of(GetCurrentThreadId(), true);
    if (row != NULL) {
        if (timeout_ms < CK_NAP_UNDER_MS)
            InterlockedIncrement(&row->naps);
        if (count > MAXIMUM_WAIT_OBJECTS)
            count = MAXIMUM_WAIT_OBJECTS;
        for (DWORD i = 0; i < count; i++)
            row->handle[i] = handles[i];
        InterlockedExchange(&row->handles, (LONG)count);
        InterlockedExchange(&row->timeout, (LONG)timeout_ms);
        InterlockedExchange(&row->waiting, 1);
    }
    SetLastError(saved_error);
    return row;
}

/* After it: why it ended. */
static void wait_ends(thread_waits *row, bool timed_out)
{
    if (row == NULL)
        return;
    InterlockedExchange(&row->waiting, 0);
    InterlockedIncrement(&row->wakeups);
    if (timed_out)
        InterlockedIncrement(&row->timeouts);
}

typedef void(WINAPI *sleep_function)(DWORD);
typedef DWORD(WINAPI *sleep_ex_function)(DWORD, BOOL);
typedef DWORD(WINAPI *wait_one_function)(HANDLE, DWORD);
typedef DWORD(WINAPI *wait_one_ex_function)(HANDLE, DWORD, BOOL);
typedef DWORD(WINAPI *wait_many_function)(DWORD, const HANDLE *, BOOL, DWORD);
typedef DWORD(WINAPI *wait_many_ex_function)(DWORD, const HANDLE *, BOOL, DWORD, BOOL);
typedef DWORD(WSAAPI *wsa_wait_function)(DWORD, const WSAEVENT *, BOOL, DWORD, BOOL);
typedef BOOL(WINAPI *sleep_cv_function)(PCONDITION_VARIABLE, PCRITICAL_SECTION, DWORD);
typedef BOOL(WINAPI *sleep_cv_srw_function)(PCONDITION_VARIABLE, PSRWLOCK, DWORD, ULONG);
typedef int(WSAAPI *select_function)(int, fd_set *, fd_set *, fd_set *, const struct timeval *);
typedef int(WSAAPI *recv_function)(SOCKET, char *, int, int);

static sleep_function real_sleep;
static sleep_ex_function real_sleep_ex;
static wait_one_function real_wait_one;
static wait_one_ex_function real_wait_one_ex;
static wait_many_function real_wait_many;
static wait_many_ex_function real_wait_many_ex;
static wsa_wait_function real_wsa_wait;
static sleep_cv_function real_sleep_cv;
static sleep_cv_srw_function real_sleep_cv_srw;
static select_function real_select;
static recv_function real_recv;

static void WINAPI watched_sleep(DWORD ms)
{
    thread_waits *row = wait_begins(0, NULL, ms);
    real_sleep(ms);
    wait_ends(row, true);
}

static DWORD WINAPI watched_sleep_ex(DWORD ms, BOOL alertable)
{
    thread_waits *row = wait_begins(0, NULL, ms);
    DWORD result = real_sleep_ex(ms, alertable);
    wait_ends(row, result == 0);
    return result;
}

static DWORD WINAPI watched_wait_one(HANDLE h, DWORD ms)
{
    thread_waits *row = wait_begins(1, &h, ms);
    DWORD result = real_wait_one(h, ms);
    wait_ends(row, result == WAIT_TIMEOUT);
    return result;
}

static DWORD WINAPI watched_wait_one_ex(HANDLE h, DWORD ms, BOOL alertable)
{
    thread_waits *row = wait_begins(1, &h, ms);
    DWORD result = real_wait_one_ex(h, ms, alertable);
    wait_ends(row, result == WAIT_TIMEOUT);
    return result;
}

static DWORD WINAPI watched_wait_many(DWORD n, const HANDLE *h, BOOL all, DWORD ms)
{
    thread_waits *row = wait_begins(n, h, ms);
    DWORD result = real_wait_many(n, h, all, ms);
    wait_ends(row, result == WAIT_TIMEOUT);
    return result;
}

static DWORD WINAPI watched_wait_many_ex(DWORD n, const HANDLE *h, BOOL all, DWORD ms,
                                         BOOL alertable)
{
    thread_waits *row = wait_begins(n, h, ms);
    DWORD result = real_wait_many_ex(n, h, all, ms, alertable);
    wait_ends(row, result == WAIT_TIMEOUT);
    return result;
}

static DWORD WSAAPI watched_wsa_wait(DWORD n, const WSAEVENT *events, BOOL all, DWORD ms,
                                     BOOL alertable)
{
    thread_waits *row = wait_begins(n, events, ms);
    DWORD result = real_wsa_wait(n, events, all, ms, alertable);
    wait_ends(row, result == WSA_WAIT_TIMEOUT);
    return result;
}

static BOOL WINAPI watched_sleep_cv(PCONDITION_VARIABLE cv, PCRITICAL_SECTION cs, DWORD ms)
{
    thread_waits *row = wait_begins(0, NULL, ms);
    BOOL woken = real_sleep_cv(cv, cs, ms);
    DWORD error = GetLastError();
    wait_ends(row, !woken && error == ERROR_TIMEOUT);
    SetLastError(error);
    return woken;
}

static BOOL WINAPI watched_sleep_cv_srw(PCONDITION_VARIABLE cv, PSRWLOCK lock, DWORD ms,
                                        ULONG flags)
{
    thread_waits *row = wait_begins(0, NULL, ms);
    BOOL woken = real_sleep_cv_srw(cv, lock, ms, flags);
    DWORD error = GetLastError();
    wait_ends(row, !woken && error == ERROR_TIMEOUT);
    SetLastError(error);
    return woken;
}

static int WSAAPI watched_select(int n, fd_set *r, fd_set *w, fd_set *e,
                                 const struct timeval *timeout)
{
    DWORD ms = INFINITE;
    if (timeout != NULL)
        ms = (DWORD)timeout->tv_sec * 1000 + (DWORD)timeout->tv_usec / 1000 +
             (timeout->tv_usec % 1000 != 0);
    thread_waits *row = wait_begins(0, NULL, ms);
    int result = real_select(n, r, w, e, timeout);
    int error = WSAGetLastError();
    wait_ends(row, result == 0);
    WSASetLastError(error);
    return result;
}

/* A blocking recv is a wait too, bounded by the socket's SO_RCVTIMEO: it counts when its
 * timeout runs out (WSAETIMEDOUT), the way a poll with a receive timeout would. */
static int WSAAPI watched_recv(SOCKET s, char *buffer, int length, int flags)
{
    int result = real_recv(s, buffer, length, flags);
    int error = WSAGetLastError();
    if (result == SOCKET_ERROR && error == WSAETIMEDOUT) {
        thread_waits *row = row_of(GetCurrentThreadId(), true);
        wait_ends(row, true);
    }
    WSASetLastError(error);
    return result;
}

/* Through tk_function, void (*)(void): the one cast between function types compilers
 * accept. A function the program does not import is not hooked: nothing calls it. */
#define HOOK(name, real, watched, type) \
    (real = (type)tk_hook_import(name, (tk_function)(watched)))

void ck_watch_waits(void)
{
    static bool hooked;
    if (hooked)
        return;
    hooked = true;
    HOOK("Sleep", real_sleep, watched_sleep, sleep_function);
    HOOK("SleepEx", real_sleep_ex, watched_sleep_ex, sleep_ex_function);
    HOOK("WaitForSingleObject", real_wait_one, watched_wait_one, wait_one_function);
    HOOK("WaitForSingleObjectEx", real_wait_one_ex, watched_wait_one_ex, wait_one_ex_function);
    HOOK("WaitForMultipleObjects", real_wait_many, watched_wait_many, wait_many_function);
    HOOK("WaitForMultipleObjectsEx", real_wait_many_ex, watched_wait_many_ex,
         wait_many_ex_function);
    HOOK("WSAWaitForMultipleEvents", real_wsa_wait, watched_wsa_wait, wsa_wait_function);
    HOOK("SleepConditionVariableCS", real_sleep_cv, watched_sleep_cv, sleep_cv_function);
    HOOK("SleepConditionVariableSRW", real_sleep_cv_srw, watched_sleep_cv_srw,
         sleep_cv_srw_function);
    HOOK("select", real_select, watched_select, select_function);
    HOOK("recv", real_recv, watched_recv, recv_function);
}

int ck_thread_waits_on(DWORD thread, HANDLE *handles, int max, DWORD *timeout_ms)
{
    thread_waits *row = row_of(thread, false);
    if (row == NULL || !InterlockedCompareExchange(&row->waiting, 0, 0))
        return -1;
    return ck_thread_last_wait(thread, handles, max, timeout_ms);
}

int ck_thread_last_wait(DWORD thread, HANDLE *handles, int max, DWORD *timeout_ms)
{
    thread_waits *row = row_of(thread, false);
    if (row == NULL)
        return -1;
    if (timeout_ms != NULL)
        *timeout_ms = (DWORD)InterlockedCompareExchange(&row->timeout, 0, 0);
    int count = (int)InterlockedCompareExchange(&row->handles, 0, 0);
    for (int i = 0; i < count && i < max; i++)
        handles[i] = row->handle[i];
    return count;
}

/* The sums of the set's rows. */
static void sum_rows(const ck_threads *set, long *wakeups, long *timeouts, long *naps)
{
    *wakeups = *timeouts = *naps = 0;
    for (int i = 0; i < set->count; i++) {
        thread_waits *row = row_of(set->ids[i], false);
        if (row == NULL)
            continue;
        *wakeups += InterlockedCompareExchange(&row->wakeups, 0, 0);
        *timeouts += InterlockedCompareExchange(&row->timeouts, 0, 0);
        *naps += InterlockedCompareExchange(&row->naps, 0, 0);
    }
}

ck_quiet ck_watch_quiet(const ck_threads *set, DWORD quiet_ms)
{
    long wakeups, timeouts, naps;
    sum_rows(set, &wakeups, &timeouts, &naps);
    ck_quiet quiet;
    quiet.ms = quiet_ms;
    quiet.threads = set->count;
    quiet.cpu_ms = ck_cpu_ms_over(set, quiet_ms);
    sum_rows(set, &quiet.wakeups, &quiet.timeouts, &quiet.naps);
    quiet.wakeups -= wakeups;
    quiet.timeouts -= timeouts;
    quiet.naps -= naps;
    return quiet;
}

static bool little_cpu(const ck_quiet *quiet)
{
    int threads = quiet->threads > 1 ? quiet->threads : 1;
    return quiet->cpu_ms < (double)CK_ASLEEP_CPU_MS * threads;
}

bool ck_quiet_is_asleep(const ck_quiet *quiet)
{
    return little_cpu(quiet) && quiet->naps * 1000 < 5 * (long)quiet->ms;
}

bool ck_quiet_slept_through(const ck_quiet *quiet)
{
    int threads = quiet->threads > 1 ? quiet->threads : 1;
    return little_cpu(quiet) && quiet->timeouts == 0 &&
           quiet->wakeups <= (long)CK_WAKEUPS_FOR_WORK_ENDING * threads;
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
