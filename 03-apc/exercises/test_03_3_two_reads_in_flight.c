/* Checker of exercise 03.3 (extend): sum_file_alertably reads with ReadFileEx, two reads in
 * flight, sums in the routines, waits only alertably and with no timeout, and on a failure
 * returns the first error only once no read is in flight (alertable_sum.h).
 *
 * The checker watches the concept through the program's imports (tutorial/import_hook.h),
 * not through anything printed: CreateFileA/W and CloseHandle (the flags, the close),
 * ReadFileEx (each read's length, OVERLAPPED and buffer; the real call is made with a
 * routine of the checker's, which counts and then calls the learner's routine), ReadFile
 * and GetOverlappedResult (which must not be called), and every wait (alertable or not,
 * its timeout, how many reads were in flight when it began). It injects the failures Wine
 * does not produce: a ReadFileEx that fails at once (at a call drawn each run), and a
 * routine called with an error. The function runs on a thread of its own, and the checker
 * waits for it with a bounded wait, so a function that waits for a routine that will never
 * come fails instead of hanging. The sizes, the bytes and the failures change from run to
 * run (the seed is printed first; TUTORIAL_SEED=N replays a run). */
#include <stdio.h>
#include <string.h>

#include "alertable_sum.h"
#include "tutorial/checkkit.h"
#include "tutorial/import_hook.h"

enum {
    RETURN_MS = 2 * TK_PROMPT_MS, /* how long the function may take for one file */
    MAX_TRACKED = 16,             /* reads in flight the checker can follow at once */
    MAX_CHUNKS = 32,
    MAX_OPENS = 4
};

/* ---- what the function under test did ------------------------------------------------ */

/* A read the function started, until its routine runs. */
typedef struct tracked_read {
    bool in_flight;
    long number; /* of its ReadFileEx call, from 1 */
    OVERLAPPED *overlapped;
    const unsigned char *buffer;
    DWORD length;
    LPOVERLAPPED_COMPLETION_ROUTINE routine; /* the learner's */
} tracked_read;

/* One call of sum_file_alertably: what the test plans, and what the hooks see. Everything
 * is touched only on the caller's thread (the hooks ignore the others), except the counts
 * of calls made on other threads. */
typedef struct watch {
    /* planned by the test */
    DWORD caller; /* the thread that calls sum_file_alertably */
    ULONGLONG size;
    long fail_start_at; /* this ReadFileEx call (from 1) fails at once; 0: none */
    DWORD start_error;
    long fail_routine_at; /* this routine (from 1) is called with routine_error... */
    DWORD routine_error;
    DWORD next_routine_error; /* ...and the one after it with this (0: its real result) */
    long hold_read; /* this read (by its ReadFileEx call) is slow: see watched_routine */
    /* seen */
    tracked_read reads[MAX_TRACKED];
    long read_calls, started, refused, routines, in_flight, most_in_flight;
    ULONGLONG asked_up_to; /* the furthest byte a started read asked for */
    long too_long, no_routine, untracked;
    DWORD longest;
    long shared_overlapped, shared_buffer;
    long routines_alone;          /* ran while bytes were left, with no other read in flight */
    long routines_starting_none;  /* returned while bytes were left, starting no read */
    long routines_outside_waits, strangers;
    long waits, waits_not_alertable, waits_with_timeout, waits_with_none_in_flight;
    DWORD a_timeout;
    bool inside_wait;
    tracked_read *held; /* the held read, done, until the next alertable wait runs it */
    DWORD held_error, held_bytes;
    bool held_queued;
    HANDLE opened[MAX_OPENS];
    long opens, opens_not_overlapped, closes;
    volatile LONG calls_elsewhere; /* ReadFileEx, routines, opens on other threads */
    long sync_reads, overlapped_results;
} watch;

static watch watched;

static bool on_caller(void)
{
    return GetCurrentThreadId() == watched.caller;
}

static ULONGLONG offset_of(const OVERLAPPED *overlapped)
{
    return ((ULONGLONG)overlapped->OffsetHigh << 32) | overlapped->Offset;
}

/* An error as a message names it: "ERROR_CRC (23)", or its number. */
typedef struct error_words {
    char text[48];
} error_words;

static error_words words_of(DWORD code)
{
    static const struct {
        DWORD code;
        const char *name;
    } names[] = {
        {ERROR_SUCCESS, "ERROR_SUCCESS"},
        {ERROR_CALL_NOT_IMPLEMENTED, "ERROR_CALL_NOT_IMPLEMENTED"},
        {ERROR_HANDLE_EOF, "ERROR_HANDLE_EOF"},
        {ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY"},
        {ERROR_NO_SYSTEM_RESOURCES, "ERROR_NO_SYSTEM_RESOURCES"},
        {ERROR_NOT_ENOUGH_QUOTA, "ERROR_NOT_ENOUGH_QUOTA"},
        {ERROR_INVALID_USER_BUFFER, "ERROR_INVALID_USER_BUFFER"},
        {ERROR_WORKING_SET_QUOTA, "ERROR_WORKING_SET_QUOTA"},
        {ERROR_CRC, "ERROR_CRC"},
        {ERROR_READ_FAULT, "ERROR_READ_FAULT"},
        {ERROR_SECTOR_NOT_FOUND, "ERROR_SECTOR_NOT_FOUND"},
        {ERROR_DEVICE_NOT_CONNECTED, "ERROR_DEVICE_NOT_CONNECTED"},
        {ERROR_NOT_READY, "ERROR_NOT_READY"},
    };
    error_words words;
    snprintf(words.text, sizeof words.text, "%lu", (unsigned long)code);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code)
            snprintf(words.text, sizeof words.text, "%s (%lu)", names[i].name,
                     (unsigned long)code);
    return words;
}

static tracked_read *in_flight_with(const OVERLAPPED *overlapped)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (watched.reads[i].in_flight && watched.reads[i].overlapped == overlapped)
            return &watched.reads[i];
    return NULL;
}

static bool overlaps_a_buffer_in_flight(const unsigned char *buffer, DWORD length)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        const tracked_read *r = &watched.reads[i];
        if (r->in_flight && buffer < r->buffer + r->length && r->buffer < buffer + length)
            return true;
    }
    return false;
}

static tracked_read *free_slot(void)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (!watched.reads[i].in_flight)
            return &watched.reads[i];
    return NULL;
}

/* ---- the hooks ------------------------------------------------------------------------- */

typedef BOOL(WINAPI *read_file_ex_function)(HANDLE, LPVOID, DWORD, LPOVERLAPPED,
                                            LPOVERLAPPED_COMPLETION_ROUTINE);
typedef BOOL(WINAPI *read_file_function)(HANDLE, LPVOID, DWORD, LPDWORD, LPOVERLAPPED);
typedef BOOL(WINAPI *overlapped_result_function)(HANDLE, LPOVERLAPPED, LPDWORD, BOOL);
typedef HANDLE(WINAPI *create_file_a_function)(LPCSTR, DWORD, DWORD, LPSECURITY_ATTRIBUTES,
                                               DWORD, DWORD, HANDLE);
typedef HANDLE(WINAPI *create_file_w_function)(LPCWSTR, DWORD, DWORD, LPSECURITY_ATTRIBUTES,
                                               DWORD, DWORD, HANDLE);
typedef BOOL(WINAPI *close_handle_function)(HANDLE);
typedef void(WINAPI *sleep_function)(DWORD);
typedef DWORD(WINAPI *sleep_ex_function)(DWORD, BOOL);
typedef DWORD(WINAPI *wait_one_function)(HANDLE, DWORD);
typedef DWORD(WINAPI *wait_one_ex_function)(HANDLE, DWORD, BOOL);
typedef DWORD(WINAPI *wait_many_function)(DWORD, const HANDLE *, BOOL, DWORD);
typedef DWORD(WINAPI *wait_many_ex_function)(DWORD, const HANDLE *, BOOL, DWORD, BOOL);
typedef DWORD(WINAPI *signal_and_wait_function)(HANDLE, HANDLE, DWORD, BOOL);

static read_file_ex_function real_read_file_ex;
static read_file_function real_read_file;
static overlapped_result_function real_overlapped_result;
static create_file_a_function real_create_file_a;
static create_file_w_function real_create_file_w;
static close_handle_function real_close_handle;
static sleep_function real_sleep;
static sleep_ex_function real_sleep_ex;
static wait_one_function real_wait_one;
static wait_one_ex_function real_wait_one_ex;
static wait_many_function real_wait_many;
static wait_many_ex_function real_wait_many_ex;
static signal_and_wait_function real_signal_and_wait;

/* The learner's routine for a read that has finished: the read is forgotten first (its
 * OVERLAPPED and buffer are the function's again), the moment is looked at, and the
 * routine is called, with the planned error when the test injects one. */
static void complete_read(tracked_read *read, DWORD error, DWORD bytes)
{
    LPOVERLAPPED_COMPLETION_ROUTINE routine = read->routine;
    OVERLAPPED *overlapped = read->overlapped;
    read->in_flight = false;
    watched.in_flight--;
    long number = ++watched.routines;
    if (!watched.inside_wait)
        watched.routines_outside_waits++;
    bool bytes_left = watched.asked_up_to < watched.size;
    if (bytes_left && watched.in_flight == 0)
        watched.routines_alone++;
    if (number == watched.fail_routine_at) {
        error = watched.routine_error;
        bytes = 0;
    } else if (number == watched.fail_routine_at + 1 && watched.next_routine_error != 0) {
        error = watched.next_routine_error;
        bytes = 0;
    }
    long calls_before = watched.read_calls;
    routine(error, bytes, overlapped);
    if (bytes_left && error == ERROR_SUCCESS && watched.read_calls == calls_before)
        watched.routines_starting_none++;
}

/* The routine the real ReadFileEx gets. Under Wine a file read is done before ReadFileEx
 * returns, and one alertable wait runs every routine queued while it runs, those that
 * routines queue included. The read the test chose to hold (a slow disk's) is kept back
 * instead: it stays in flight, and its routine runs in the thread's NEXT alertable wait
 * (deliver_held), so a function that stops waiting too soon is seen to. */
static void CALLBACK watched_routine(DWORD error, DWORD bytes, OVERLAPPED *overlapped)
{
    if (!on_caller()) {
        InterlockedIncrement(&watched.calls_elsewhere);
        return; /* cannot happen: a routine runs on the thread that started the read */
    }
    tracked_read *read = in_flight_with(overlapped);
    if (read == NULL) {
        watched.strangers++;
        return;
    }
    if (read->number == watched.hold_read) {
        watched.hold_read = 0; /* once */
        watched.held = read;
        watched.held_error = error;
        watched.held_bytes = bytes;
        return;
    }
    complete_read(read, error, bytes);
}

/* Queued by the next alertable wait of the caller's thread after a read was held. */
static void CALLBACK deliver_held(ULONG_PTR unused)
{
    (void)unused;
    tracked_read *read = watched.held;
    watched.held = NULL;
    complete_read(read, watched.held_error, watched.held_bytes);
}

static void note_start(tracked_read *slot, OVERLAPPED *overlapped, DWORD length)
{
    watched.started++;
    watched.in_flight++;
    if (watched.in_flight > watched.most_in_flight)
        watched.most_in_flight = watched.in_flight;
    ULONGLONG end = offset_of(overlapped) + length;
    if (end > watched.asked_up_to)
        watched.asked_up_to = end;
    if (slot == NULL)
        watched.untracked++;
}

static BOOL WINAPI watched_read_file_ex(HANDLE file, LPVOID buffer, DWORD length,
                                       LPOVERLAPPED overlapped,
                                       LPOVERLAPPED_COMPLETION_ROUTINE routine)
{
    if (!on_caller()) {
        InterlockedIncrement(&watched.calls_elsewhere);
        return real_read_file_ex(file, buffer, length, overlapped, routine);
    }
    long number = ++watched.read_calls;
    if (length > SUM_CHUNK) {
        watched.too_long++;
        watched.longest = length;
    }
    if (number == watched.fail_start_at) {
        watched.refused++;
        SetLastError(watched.start_error); /* nothing started: no routine will run */
        return FALSE;
    }
    if (routine == NULL) {
        watched.no_routine++;
        return real_read_file_ex(file, buffer, length, overlapped, routine);
    }
    if (in_flight_with(overlapped) != NULL)
        watched.shared_overlapped++;
    if (overlaps_a_buffer_in_flight(buffer, length))
        watched.shared_buffer++;
    tracked_read *slot = free_slot();
    BOOL ok;
    if (slot == NULL) { /* more than MAX_TRACKED in flight: counted, not followed */
        ok = real_read_file_ex(file, buffer, length, overlapped, routine);
    } else {
        tracked_read read = {true, number, overlapped, buffer, length, routine};
        *slot = read; /* before the call: the routine finds it */
        ok = real_read_file_ex(file, buffer, length, overlapped, watched_routine);
        if (!ok)
            slot->in_flight = false; /* a real failure: no routine will run */
    }
    DWORD error = GetLastError();
    if (ok)
        note_start(slot, overlapped, length);
    SetLastError(error);
    return ok;
}

static BOOL WINAPI watched_read_file(HANDLE file, LPVOID buffer, DWORD length, LPDWORD read,
                                     LPOVERLAPPED overlapped)
{
    if (on_caller())
        watched.sync_reads++;
    return real_read_file(file, buffer, length, read, overlapped);
}

static BOOL WINAPI watched_overlapped_result(HANDLE file, LPOVERLAPPED overlapped,
                                             LPDWORD bytes, BOOL wait)
{
    if (on_caller())
        watched.overlapped_results++;
    return real_overlapped_result(file, overlapped, bytes, wait);
}

static void note_open(HANDLE file, DWORD flags)
{
    if (file == INVALID_HANDLE_VALUE)
        return;
    if (watched.opens < MAX_OPENS)
        watched.opened[watched.opens] = file;
    watched.opens++;
    if (!(flags & FILE_FLAG_OVERLAPPED))
        watched.opens_not_overlapped++;
}

static HANDLE WINAPI watched_create_file_a(LPCSTR path, DWORD access, DWORD share,
                                           LPSECURITY_ATTRIBUTES security, DWORD disposition,
                                           DWORD flags, HANDLE model)
{
    HANDLE file = real_create_file_a(path, access, share, security, disposition, flags, model);
    DWORD error = GetLastError();
    if (on_caller())
        note_open(file, flags);
    SetLastError(error);
    return file;
}

static HANDLE WINAPI watched_create_file_w(LPCWSTR path, DWORD access, DWORD share,
                                           LPSECURITY_ATTRIBUTES security, DWORD disposition,
                                           DWORD flags, HANDLE model)
{
    HANDLE file = real_create_file_w(path, access, share, security, disposition, flags, model);
    DWORD error = GetLastError();
    if (on_caller())
        note_open(file, flags);
    SetLastError(error);
    return file;
}

static BOOL WINAPI watched_close_handle(HANDLE handle)
{
    if (on_caller())
        for (long i = 0; i < watched.opens && i < MAX_OPENS; i++)
            if (watched.opened[i] == handle)
                watched.closes++;
    return real_close_handle(handle);
}

/* Before a wait of the caller's thread: what kind of wait, and whether anything could
 * end it. */
static void wait_begins(BOOL alertable, DWORD timeout_ms)
{
    watched.waits++;
    if (!alertable)
        watched.waits_not_alertable++;
    if (timeout_ms != INFINITE) {
        watched.waits_with_timeout++;
        watched.a_timeout = timeout_ms;
    }
    if (watched.in_flight == 0)
        watched.waits_with_none_in_flight++;
    if (watched.held != NULL && alertable && !watched.held_queued) {
        watched.held_queued = true; /* this wait runs it */
        QueueUserAPC(deliver_held, GetCurrentThread(), 0);
    }
    watched.inside_wait = true;
}

static void wait_ends(void)
{
    watched.inside_wait = false;
}

static void WINAPI watched_sleep(DWORD ms)
{
    if (!on_caller()) {
        real_sleep(ms);
        return;
    }
    wait_begins(FALSE, ms);
    real_sleep(ms);
    wait_ends();
}

static DWORD WINAPI watched_sleep_ex(DWORD ms, BOOL alertable)
{
    if (!on_caller())
        return real_sleep_ex(ms, alertable);
    wait_begins(alertable, ms);
    DWORD result = real_sleep_ex(ms, alertable);
    wait_ends();
    return result;
}

static DWORD WINAPI watched_wait_one(HANDLE h, DWORD ms)
{
    if (!on_caller())
        return real_wait_one(h, ms);
    wait_begins(FALSE, ms);
    DWORD result = real_wait_one(h, ms);
    wait_ends();
    return result;
}

static DWORD WINAPI watched_wait_one_ex(HANDLE h, DWORD ms, BOOL alertable)
{
    if (!on_caller())
        return real_wait_one_ex(h, ms, alertable);
    wait_begins(alertable, ms);
    DWORD result = real_wait_one_ex(h, ms, alertable);
    wait_ends();
    return result;
}

static DWORD WINAPI watched_wait_many(DWORD n, const HANDLE *h, BOOL all, DWORD ms)
{
    if (!on_caller())
        return real_wait_many(n, h, all, ms);
    wait_begins(FALSE, ms);
    DWORD result = real_wait_many(n, h, all, ms);
    wait_ends();
    return result;
}

static DWORD WINAPI watched_wait_many_ex(DWORD n, const HANDLE *h, BOOL all, DWORD ms,
                                         BOOL alertable)
{
    if (!on_caller())
        return real_wait_many_ex(n, h, all, ms, alertable);
    wait_begins(alertable, ms);
    DWORD result = real_wait_many_ex(n, h, all, ms, alertable);
    wait_ends();
    return result;
}

static DWORD WINAPI watched_signal_and_wait(HANDLE signal, HANDLE h, DWORD ms, BOOL alertable)
{
    if (!on_caller())
        return real_signal_and_wait(signal, h, ms, alertable);
    wait_begins(alertable, ms);
    DWORD result = real_signal_and_wait(signal, h, ms, alertable);
    wait_ends();
    return result;
}

/* Through tk_function, void (*)(void): the one cast between function types compilers
 * accept. A function the program does not import is not hooked: nothing calls it. */
#define HOOK(name, real, watcher, type) \
    (real = (type)tk_hook_import(name, (tk_function)(watcher)))

static int install_hooks(void **state)
{
    (void)state;
    HOOK("ReadFileEx", real_read_file_ex, watched_read_file_ex, read_file_ex_function);
    HOOK("ReadFile", real_read_file, watched_read_file, read_file_function);
    HOOK("GetOverlappedResult", real_overlapped_result, watched_overlapped_result,
         overlapped_result_function);
    HOOK("CreateFileA", real_create_file_a, watched_create_file_a, create_file_a_function);
    HOOK("CreateFileW", real_create_file_w, watched_create_file_w, create_file_w_function);
    HOOK("CloseHandle", real_close_handle, watched_close_handle, close_handle_function);
    HOOK("Sleep", real_sleep, watched_sleep, sleep_function);
    HOOK("SleepEx", real_sleep_ex, watched_sleep_ex, sleep_ex_function);
    HOOK("WaitForSingleObject", real_wait_one, watched_wait_one, wait_one_function);
    HOOK("WaitForSingleObjectEx", real_wait_one_ex, watched_wait_one_ex, wait_one_ex_function);
    HOOK("WaitForMultipleObjects", real_wait_many, watched_wait_many, wait_many_function);
    HOOK("WaitForMultipleObjectsEx", real_wait_many_ex, watched_wait_many_ex,
         wait_many_ex_function);
    HOOK("SignalObjectAndWait", real_signal_and_wait, watched_signal_and_wait,
         signal_and_wait_function);
    return 0;
}

/* ---- a file, and one call on a thread of its own ---------------------------------------- */

static unsigned char contents[MAX_CHUNKS * SUM_CHUNK];
static char path[MAX_PATH];

/* Writes a file of size random bytes (through the checker's thread: not watched) and
 * returns their sum. */
static ULONGLONG write_file(ULONGLONG size)
{
    char folder[MAX_PATH];
    assert_true(GetTempPathA(MAX_PATH, folder) > 0);
    static int files; /* a name per file: one a stuck call left open cannot get in the way */
    snprintf(path, sizeof path, "%stutorial-03-3-%lu-%d.bin", folder,
             (unsigned long)GetCurrentProcessId(), ++files);
    ULONGLONG sum = 0;
    for (ULONGLONG i = 0; i < size; i++) {
        contents[i] = (unsigned char)ck_random(0, 255);
        sum += contents[i];
    }
    HANDLE file = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    DWORD written = 0;
    assert_true(WriteFile(file, contents, (DWORD)size, &written, NULL));
    assert_int_equal(written, size);
    CloseHandle(file);
    return sum;
}

/* One call of sum_file_alertably, on the thread that runs it. Static: a thread that did not
 * return in time may still write to it. */
typedef struct call {
    ULONGLONG sum;
    DWORD result;
    long in_flight_at_return;
} call;

static call the_call;

static DWORD WINAPI make_the_call(void *argument)
{
    (void)argument;
    the_call.result = sum_file_alertably(path, &the_call.sum);
    the_call.in_flight_at_return = watched.in_flight;
    return 0;
}

/* Queued to a thread that did not return in time: if it sits in an alertable wait, it
 * leaves from there, so that it touches nothing of the next test. */
static void CALLBACK leave_the_thread(ULONG_PTR unused)
{
    (void)unused;
    ExitThread(0);
}

/* The handles a thread that had to leave (leave_the_thread) opened and did not close. */
static void close_what_it_left_open(void)
{
    for (long i = 0; i < watched.opens && i < MAX_OPENS; i++)
        real_close_handle(watched.opened[i]);
}

static void plan(ULONGLONG size)
{
    memset(&watched, 0, sizeof watched);
    watched.size = size;
}

/* Calls sum_file_alertably on a thread of its own and waits for it, bounded. */
static void run_the_call(const char *what)
{
    memset(&the_call, 0, sizeof the_call);
    HANDLE thread = CreateThread(NULL, 0, make_the_call, NULL, CREATE_SUSPENDED,
                                 &watched.caller);
    assert_non_null(thread);
    ResumeThread(thread);
    bool returned = WaitForSingleObject(thread, RETURN_MS) == WAIT_OBJECT_0;
    if (!returned && QueueUserAPC(leave_the_thread, thread, 0) &&
        WaitForSingleObject(thread, TK_PROMPT_MS) == WAIT_OBJECT_0)
        close_what_it_left_open();
    CloseHandle(thread);
    DeleteFileA(path);
    if (returned)
        return;
    if (watched.waits_with_none_in_flight > 0)
        fail_msg("expected sum_file_alertably to return within %d ms (%s); it was still "
                 "waiting. It began an alertable wait while no read was in flight: no routine "
                 "would ever end that wait. A ReadFileEx that returns FALSE started nothing, "
                 "and no routine will run for it",
                 RETURN_MS, what);
    fail_msg("expected sum_file_alertably to return within %d ms (%s); it had not. %ld "
             "read(s) started, %ld routine(s) run, %ld wait(s) begun",
             RETURN_MS, what, watched.started, watched.routines, watched.waits);
}

/* ---- what every call must have done ----------------------------------------------------- */

static void expect_overlapped_reads_only(const char *what)
{
    if (real_read_file_ex == NULL)
        fail_msg("expected sum_file_alertably to read with ReadFileEx (%s); the program does "
                 "not even import it", what);
    if (watched.sync_reads != 0 || watched.overlapped_results != 0)
        fail_msg("expected every read to be a ReadFileEx with a completion routine (%s); "
                 "ReadFile was called %ld time(s), GetOverlappedResult %ld time(s)",
                 what, watched.sync_reads, watched.overlapped_results);
    if (watched.no_routine != 0)
        fail_msg("expected every ReadFileEx to name a completion routine (%s); %ld named none",
                 what, watched.no_routine);
    if (watched.calls_elsewhere != 0)
        fail_msg("expected the reads and their routines on the thread that called "
                 "sum_file_alertably (%s); %ld happened on another thread",
                 what, (long)watched.calls_elsewhere);
    if (watched.too_long != 0)
        fail_msg("expected reads of at most SUM_CHUNK (%d) bytes (%s); one asked for %lu",
                 SUM_CHUNK, what, (unsigned long)watched.longest);
}

static void expect_the_file_opened_overlapped_and_closed(const char *what)
{
    if (watched.opens == 0)
        fail_msg("expected sum_file_alertably to open the file with CreateFileA or "
                 "CreateFileW on its thread (%s); it opened nothing", what);
    if (watched.opens_not_overlapped != 0)
        fail_msg("expected the file opened with FILE_FLAG_OVERLAPPED (%s): without it, a read "
                 "finishes before ReadFileEx returns, and its offset is the handle's, not the "
                 "OVERLAPPED's", what);
    if (watched.closes < watched.opens)
        fail_msg("expected every handle sum_file_alertably opened to be closed before it "
                 "returns (%s); %ld opened, %ld closed", what, watched.opens, watched.closes);
}

static void expect_own_overlapped_and_buffer(const char *what)
{
    if (watched.shared_overlapped != 0)
        fail_msg("expected each read in flight to have its own OVERLAPPED (%s); %ld "
                 "ReadFileEx call(s) were handed one that a read still in flight was using. "
                 "The system owns an OVERLAPPED from the call until the read's routine runs",
                 what, watched.shared_overlapped);
    if (watched.shared_buffer != 0)
        fail_msg("expected each read in flight to have its own buffer (%s); %ld ReadFileEx "
                 "call(s) read into bytes that another read in flight was filling", what,
                 watched.shared_buffer);
}

static void expect_alertable_waits_without_timeout(const char *what)
{
    if (watched.waits_not_alertable != 0)
        fail_msg("expected every wait of sum_file_alertably to be alertable (%s); %ld were "
                 "not (Sleep, WaitForSingleObject, or an ...Ex call with FALSE). A routine "
                 "runs only in an alertable wait of the thread that started the read",
                 what, watched.waits_not_alertable);
    if (watched.waits_with_timeout != 0)
        fail_msg("expected every wait to have no timeout, INFINITE (%s); %ld had one (%lu ms, "
                 "say). A routine wakes an alertable wait when there is work: a wait that "
                 "ends on its timeout to look is polling, however long the timeout",
                 what, watched.waits_with_timeout, (unsigned long)watched.a_timeout);
    if (watched.waits_with_none_in_flight != 0)
        fail_msg("expected no wait while no read is in flight (%s); %ld wait(s) began with "
                 "none: no routine would ever end them", what,
                 watched.waits_with_none_in_flight);
    if (watched.routines_outside_waits != 0)
        fail_msg("expected the routines to run inside the waits the checker watches (SleepEx, "
                 "WaitForSingleObjectEx, WaitForMultipleObjectsEx) (%s); %ld ran elsewhere",
                 what, watched.routines_outside_waits);
}

static void expect_nothing_in_flight_at_return(const char *what)
{
    if (the_call.in_flight_at_return != 0)
        fail_msg("expected sum_file_alertably to return only once the routine of every read "
                 "it started had run (%s); it returned with %ld read(s) in flight. The system "
                 "still writes into their OVERLAPPED and buffer, and queues their routine to "
                 "this thread: that memory must outlive them (the checker holds one read back, as "
                 "a slow disk would: its routine runs only in a later wait)", what,
                 the_call.in_flight_at_return);
}

static void expect_every_rule(const char *what)
{
    expect_overlapped_reads_only(what);
    expect_the_file_opened_overlapped_and_closed(what);
    expect_own_overlapped_and_buffer(what);
    expect_alertable_waits_without_timeout(what);
    expect_nothing_in_flight_at_return(what);
}

/* Two reads in flight while bytes are left. */
static void expect_two_in_flight(ULONGLONG size, const char *what)
{
    if (size > SUM_CHUNK && watched.most_in_flight < 2)
        fail_msg("expected two reads in flight at once (%s, %lu bytes); there was never more "
                 "than %ld", what, (unsigned long)size, watched.most_in_flight);
    if (watched.most_in_flight > 2 || watched.untracked != 0)
        fail_msg("expected at most two reads in flight, each with its own buffer (%s); up to "
                 "%ld were", what, watched.most_in_flight);
    if (watched.routines_alone != 0)
        fail_msg("expected a routine that runs while bytes are left to find the other read "
                 "in flight too (%s); %ld routine(s) ran with no other read in flight. Start "
                 "two reads before the first wait, and one more in each routine",
                 what, watched.routines_alone);
    if (watched.routines_starting_none != 0)
        fail_msg("expected each routine that runs while bytes are left to start the next read "
                 "before it returns (%s); %ld returned without starting one, and the thread "
                 "then had one read in flight instead of two", what,
                 watched.routines_starting_none);
}

/* ---- the tests ---------------------------------------------------------------------------- */

/* A size with whole chunks and maybe a remainder: 0, exactly one chunk, and random ones. */
static ULONGLONG size_number(int i)
{
    switch (i) {
    case 0: return 0;
    case 1: return SUM_CHUNK;
    case 2: return (ULONGLONG)ck_random(1, SUM_CHUNK - 1);
    case 3: return (ULONGLONG)ck_random(2, MAX_CHUNKS) * SUM_CHUNK;
    default:
        return (ULONGLONG)ck_random(1, MAX_CHUNKS - 1) * SUM_CHUNK + ck_random(1, SUM_CHUNK - 1);
    }
}

static void files_of_any_size_are_summed_with_two_reads_in_flight(void **state)
{
    (void)state;
    enum { FILES = 7 };
    long reads = 0, waits = 0;
    ULONGLONG largest = 0;
    for (int i = 0; i < FILES; i++) {
        ULONGLONG size = size_number(i);
        char what[64];
        snprintf(what, sizeof what, "a file of %lu bytes", (unsigned long)size);
        ULONGLONG expected = write_file(size);
        plan(size);
        if (size > 0) /* a slow read, anywhere in the file */
            watched.hold_read = ck_random(1, (int)((size + SUM_CHUNK - 1) / SUM_CHUNK));
        run_the_call(what);
        if (the_call.result != ERROR_SUCCESS)
            fail_msg("expected sum_file_alertably to return ERROR_SUCCESS (%s); it returned "
                     "%s", what, words_of(the_call.result).text);
        expect_every_rule(what);
        if (watched.asked_up_to < size)
            fail_msg("expected the ReadFileEx reads to cover every byte of %s; they asked "
                     "for the bytes up to %lu only", what, (unsigned long)watched.asked_up_to);
        expect_two_in_flight(size, what);
        if (the_call.sum != expected)
            fail_msg("expected the sum of the bytes of %s to be %llu; it was %llu", what,
                     (unsigned long long)expected, (unsigned long long)the_call.sum);
        reads += watched.started;
        largest = size > largest ? size : largest;
        waits += watched.waits;
    }
    print_message("measured: %d files summed right, of 0 to %lu bytes, in %ld reads with at "
                  "most 2 in flight and %ld alertable waits, none with a timeout\n",
                  FILES, (unsigned long)largest, reads, waits);
}

/* The errors the checker injects: a start that fails at once (the system is short of
 * something), and a read that fails on its way (the disk). */
static const DWORD start_errors[] = {ERROR_NOT_ENOUGH_MEMORY, ERROR_NO_SYSTEM_RESOURCES,
                                     ERROR_NOT_ENOUGH_QUOTA, ERROR_INVALID_USER_BUFFER,
                                     ERROR_WORKING_SET_QUOTA};
static const DWORD routine_errors[] = {ERROR_CRC, ERROR_READ_FAULT, ERROR_SECTOR_NOT_FOUND,
                                       ERROR_DEVICE_NOT_CONNECTED, ERROR_NOT_READY};

static DWORD one_of(const DWORD *errors, int count)
{
    return errors[ck_random(0, count - 1)];
}

#define ONE_OF(errors) one_of(errors, (int)(sizeof(errors) / sizeof((errors)[0])))

/* A ReadFileEx that fails at once (from outside, at a call drawn each run): no routine will
 * run for it. The first call fails with nothing else in flight; a later one with the other
 * read in flight, whose routine must still run before the function returns. */
static void a_read_that_fails_at_once_is_returned_without_waiting_for_its_routine(void **state)
{
    (void)state;
    for (int later = 0; later <= 1; later++) {
        int chunks = ck_random(3, MAX_CHUNKS);
        ULONGLONG size = (ULONGLONG)chunks * SUM_CHUNK - (ULONGLONG)ck_random(0, SUM_CHUNK - 1);
        write_file(size);
        plan(size);
        watched.fail_start_at = later ? ck_random(2, chunks) : 1;
        watched.start_error = ONE_OF(start_errors);
        watched.hold_read = watched.fail_start_at - 1; /* the other read in flight is slow */
        char what[128];
        snprintf(what, sizeof what, "ReadFileEx call %ld of a file of %d chunks failed at "
                 "once with %s", watched.fail_start_at, chunks,
                 words_of(watched.start_error).text);
        run_the_call(what);
        if (watched.refused != 1)
            fail_msg("expected ReadFileEx to be called at least %ld time(s) for a file of %d "
                     "chunks; it was called %ld time(s)", watched.fail_start_at, chunks,
                     watched.read_calls);
        if (the_call.result != watched.start_error)
            fail_msg("expected sum_file_alertably to return the error of the ReadFileEx that "
                     "failed at once (%s); it returned %s", what,
                     words_of(the_call.result).text);
        expect_every_rule(what);
    }
}

/* A routine called with an error (from outside: the checker's routine hands the learner's
 * one the error instead of the real result), and the next routine with another: the first
 * one is returned, once no read is in flight. */
static void a_routine_called_with_an_error_is_returned_first(void **state)
{
    (void)state;
    int chunks = ck_random(4, MAX_CHUNKS);
    ULONGLONG size = (ULONGLONG)chunks * SUM_CHUNK - (ULONGLONG)ck_random(0, SUM_CHUNK - 1);
    write_file(size);
    plan(size);
    watched.fail_routine_at = ck_random(1, chunks - 2);
    watched.routine_error = ONE_OF(routine_errors);
    do
        watched.next_routine_error = ONE_OF(routine_errors);
    while (watched.next_routine_error == watched.routine_error);
    watched.hold_read = watched.fail_routine_at + 1; /* the other read in flight is slow */
    char what[192];
    snprintf(what, sizeof what, "routine %ld of a file of %d chunks was called with %s, "
             "the next with %s", watched.fail_routine_at, chunks,
             words_of(watched.routine_error).text, words_of(watched.next_routine_error).text);
    run_the_call(what);
    if (watched.routines < watched.fail_routine_at)
        fail_msg("expected at least %ld routines to run for a file of %d chunks; %ld ran",
                 watched.fail_routine_at, chunks, watched.routines);
    if (the_call.result != watched.routine_error)
        fail_msg("expected sum_file_alertably to return the first error a routine was called "
                 "with (%s); it returned %s", what, words_of(the_call.result).text);
    expect_every_rule(what);
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(files_of_any_size_are_summed_with_two_reads_in_flight),
        cmocka_unit_test(a_read_that_fails_at_once_is_returned_without_waiting_for_its_routine),
        cmocka_unit_test(a_routine_called_with_an_error_is_returned_first),
    };
    return CK_RUN_CHECKER("exercise 03.3", tests, install_hooks, NULL);
}
