#include "tutorial/testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutorial/errors.h"
#include "tutorial/faults.h"
#include "tutorial/net.h"

int tk_winsock_up(void **state)
{
    (void)state;
    return net_startup() ? 0 : -1;
}

int tk_faults_up(void **state)
{
    faults_hook_imports();
    return tk_winsock_up(state);
}

int tk_winsock_down(void **state)
{
    (void)state;
    WSACleanup();
    return 0;
}

void tk_socket_pair(SOCKET *client, SOCKET *server)
{
    unsigned short port = 0;
    SOCKET listener = net_listen_loopback(0, &port);
    assert_true(listener != INVALID_SOCKET);
    *client = net_connect_loopback(port);
    assert_true(*client != INVALID_SOCKET);
    tk_wait_readable(listener, TK_PROMPT_MS); /* a listener is readable when a connection waits */
    *server = accept(listener, NULL, NULL);
    assert_true(*server != INVALID_SOCKET);
    closesocket(listener);
}

void tk_wait_readable(SOCKET s, DWORD timeout_ms)
{
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(s, &readable);
    struct timeval timeout = {(long)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000};
    int ready = select(0, &readable, NULL, NULL, &timeout);
    assert_int_equal(ready, 1);
}

void tk_fill_pattern(unsigned char *buffer, size_t length, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < length; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
        buffer[i] = (unsigned char)x;
    }
}

void tk_assert_no_completion(HANDLE port, DWORD quiet_ms)
{
    DWORD bytes = 0xdeadbeef;
    ULONG_PTR key = 0xdeadbeef;
    OVERLAPPED *overlapped = (OVERLAPPED *)(ULONG_PTR)0xdeadbeef;
    SetLastError(0);
    BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, quiet_ms);
    DWORD error = GetLastError();
    assert_false(ok);
    tk_assert_error(error, WAIT_TIMEOUT);
    assert_null(overlapped); /* written: NULL, not the sentinel */
}

void tk_assert_error_at(DWORD actual, DWORD expected, const char *file, int line)
{
    if (actual == expected)
        return;
    char want[32], got[32];
    print_error("expected %s (%lu), got %s (%lu)\n", error_name(expected, want, sizeof want),
                (unsigned long)expected, error_name(actual, got, sizeof got),
                (unsigned long)actual);
    _fail(file, line);
}

const char *tk_wait_result_name(DWORD result, char *buf, size_t size)
{
    if (result == WAIT_TIMEOUT)
        return "WAIT_TIMEOUT (258)";
    if (result == WAIT_IO_COMPLETION)
        return "WAIT_IO_COMPLETION (192)";
    if (result == WAIT_FAILED)
        return "WAIT_FAILED";
    if (result >= WAIT_ABANDONED_0 && result < WAIT_ABANDONED_0 + MAXIMUM_WAIT_OBJECTS)
        snprintf(buf, size, "WAIT_ABANDONED_0 + %lu", (unsigned long)(result - WAIT_ABANDONED_0));
    else if (result == WAIT_OBJECT_0)
        return "WAIT_OBJECT_0";
    else if (result < MAXIMUM_WAIT_OBJECTS)
        snprintf(buf, size, "WAIT_OBJECT_0 + %lu", (unsigned long)result);
    else
        snprintf(buf, size, "%lu", (unsigned long)result);
    return buf;
}

void tk_assert_wait_at(DWORD actual, DWORD expected, const char *file, int line)
{
    if (actual == expected)
        return;
    char want[32], got[32];
    print_error("expected %s, got %s\n", tk_wait_result_name(expected, want, sizeof want),
                tk_wait_result_name(actual, got, sizeof got));
    _fail(file, line);
}

bool tk_under_wine(void)
{
    return net_under_wine();
}

bool tk_wait_until(bool (*condition)(void *context), void *context, DWORD timeout_ms)
{
    ULONGLONG deadline = GetTickCount64() + timeout_ms;
    while (!condition(context)) {
        if (GetTickCount64() >= deadline)
            return condition(context);
        Sleep(5);
    }
    return true;
}

static bool overlapped_completed(void *overlapped)
{
    return HasOverlappedIoCompleted((const OVERLAPPED *)overlapped);
}

bool tk_wait_until_completed(const OVERLAPPED *overlapped, DWORD timeout_ms)
{
    return tk_wait_until(overlapped_completed, (void *)overlapped, timeout_ms);
}

void tk_temp_file(char path[MAX_PATH])
{
    char folder[MAX_PATH];
    assert_true(GetTempPathA(MAX_PATH, folder) > 0);
    assert_true(GetTempFileNameA(folder, "tut", 0, path) != 0);
}

void tk_program_path(const char *name, char *path, size_t size)
{
    char self[MAX_PATH];
    DWORD length = GetModuleFileNameA(NULL, self, sizeof self);
    assert_true(length > 0 && length < sizeof self);
    /* <build>\tests\this.exe -> <build>\bin\NAME.exe */
    char *slash = strrchr(self, '\\');
    assert_non_null(slash);
    *slash = '\0';
    slash = strrchr(self, '\\');
    assert_non_null(slash);
    *slash = '\0';
    snprintf(path, size, "%s\\bin\\%s.exe", self, name);
}

/* ---- child processes ---------------------------------------------------------------- */

typedef struct tk_output {
    HANDLE pipe;
    HANDLE thread;
    char *text;
    size_t length;
    bool ended;
} tk_output;

struct tk_process {
    PROCESS_INFORMATION info;
    size_t stdout_seen; /* tk_wait_for_line looks at lines after the last one it matched */
    CRITICAL_SECTION lock;
    CONDITION_VARIABLE changed;
    tk_output out, err;
};

typedef struct reader_job {
    tk_process *process;
    tk_output *output;
} reader_job;

static DWORD WINAPI read_pipe(void *argument)
{
    reader_job job = *(reader_job *)argument;
    free(argument);
    char chunk[4096];
    DWORD got = 0;
    while (ReadFile(job.output->pipe, chunk, sizeof chunk, &got, NULL) && got > 0) {
        EnterCriticalSection(&job.process->lock);
        char *grown = realloc(job.output->text, job.output->length + got + 1);
        if (grown != NULL) {
            memcpy(grown + job.output->length, chunk, got);
            job.output->text = grown;
            job.output->length += got;
            grown[job.output->length] = '\0';
        }
        LeaveCriticalSection(&job.process->lock);
        WakeAllConditionVariable(&job.process->changed);
    }
    EnterCriticalSection(&job.process->lock);
    job.output->ended = true;
    LeaveCriticalSection(&job.process->lock);
    WakeAllConditionVariable(&job.process->changed);
    return 0;
}

static void start_reader(tk_process *p, tk_output *output)
{
    reader_job *job = malloc(sizeof *job);
    assert_non_null(job);
    *job = (reader_job){p, output};
    output->text = calloc(1, 1);
    output->thread = CreateThread(NULL, 0, read_pipe, job, 0, NULL);
    assert_non_null(output->thread);
}

tk_process *tk_spawn(const char *program, const char *args)
{
    char path[MAX_PATH];
    tk_program_path(program, path, sizeof path);
    size_t size = strlen(path) + strlen(args) + 4;
    char *command_line = malloc(size);
    assert_non_null(command_line);
    snprintf(command_line, size, "\"%s\" %s", path, args);

    tk_process *p = calloc(1, sizeof *p);
    assert_non_null(p);
    InitializeCriticalSection(&p->lock);
    InitializeConditionVariable(&p->changed);

    SECURITY_ATTRIBUTES inheritable = {sizeof inheritable, NULL, TRUE};
    HANDLE out_write, err_write;
    assert_true(CreatePipe(&p->out.pipe, &out_write, &inheritable, 0));
    assert_true(CreatePipe(&p->err.pipe, &err_write, &inheritable, 0));
    SetHandleInformation(p->out.pipe, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(p->err.pipe, HANDLE_FLAG_INHERIT, 0);

    STARTUPINFOA startup = {sizeof startup};
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    startup.hStdOutput = out_write;
    startup.hStdError = err_write;
    /* Wine 8 now and then fails a CreateProcess with ERROR_INTERNAL_ERROR while many
     * processes start at once (seen with four test programs spawning servers together);
     * a second try a moment later works. Windows does not do this. */
    BOOL started = FALSE;
    for (int attempt = 0; attempt < 3 && !started; attempt++) {
        if (attempt > 0)
            Sleep(200); /* a back-off before trying again, not a synchronisation */
        started = CreateProcessA(path, command_line, NULL, NULL, TRUE, 0, NULL, NULL, &startup,
                                 &p->info);
        if (!started && GetLastError() != ERROR_INTERNAL_ERROR)
            break;
    }
    CloseHandle(out_write); /* the child holds the write ends now */
    CloseHandle(err_write);
    free(command_line);
    if (!started)
        fail_msg("cannot start %s (error %lu)", path, (unsigned long)GetLastError());
    start_reader(p, &p->out);
    start_reader(p, &p->err);
    return p;
}

bool tk_wait_for_line(tk_process *p, const char *prefix, DWORD timeout_ms, char *line,
                      size_t size)
{
    ULONGLONG deadline = GetTickCount64() + timeout_ms;
    bool found = false;
    EnterCriticalSection(&p->lock);
    for (;;) {
        const char *start = p->out.text + p->stdout_seen;
        for (const char *end; !found && (end = strchr(start, '\n')) != NULL; start = end + 1) {
            if (strncmp(start, prefix, strlen(prefix)) != 0)
                continue;
            size_t n = (size_t)(end - start);
            if (n > 0 && start[n - 1] == '\r')
                n--;
            snprintf(line, size, "%.*s", (int)n, start);
            p->stdout_seen = (size_t)(end + 1 - p->out.text); /* the next wait looks further on */
            found = true;
        }
        ULONGLONG now = GetTickCount64();
        if (found || p->out.ended || now >= deadline)
            break;
        SleepConditionVariableCS(&p->changed, &p->lock, (DWORD)(deadline - now));
    }
    LeaveCriticalSection(&p->lock);
    return found;
}

unsigned short tk_start_server(tk_process **p, const char *program, const char *args)
{
    static const char prefix[] = "listening on 127.0.0.1:";
    char line[128];
    *p = tk_spawn(program, args);
    if (!tk_wait_for_line(*p, prefix, 20000, line, sizeof line))
        fail_msg("%s did not print '%s...'; stderr: %s", program, prefix, tk_stderr(*p));
    int port = atoi(line + strlen(prefix));
    assert_in_range(port, 1, 65535);
    return (unsigned short)port;
}

int tk_wait_exit(tk_process *p, DWORD timeout_ms)
{
    if (WaitForSingleObject(p->info.hProcess, timeout_ms) != WAIT_OBJECT_0) {
        TerminateProcess(p->info.hProcess, 999);
        fail_msg("the process did not exit within %lu ms", (unsigned long)timeout_ms);
    }
    /* The pipes end when the child has gone; collect the last of its output. */
    WaitForSingleObject(p->out.thread, TK_PROMPT_MS);
    WaitForSingleObject(p->err.thread, TK_PROMPT_MS);
    DWORD status = 0;
    GetExitCodeProcess(p->info.hProcess, &status);
    return (int)status;
}

const char *tk_stdout(tk_process *p)
{
    return p->out.text;
}

const char *tk_stderr(tk_process *p)
{
    return p->err.text;
}

static void close_output(tk_output *output)
{
    WaitForSingleObject(output->thread, TK_PROMPT_MS);
    CloseHandle(output->thread);
    CloseHandle(output->pipe);
    free(output->text);
}

void tk_process_free(tk_process *p)
{
    if (p == NULL)
        return;
    if (WaitForSingleObject(p->info.hProcess, 0) != WAIT_OBJECT_0) {
        TerminateProcess(p->info.hProcess, 999);
        WaitForSingleObject(p->info.hProcess, TK_PROMPT_MS);
    }
    close_output(&p->out);
    close_output(&p->err);
    CloseHandle(p->info.hThread);
    CloseHandle(p->info.hProcess);
    DeleteCriticalSection(&p->lock);
    free(p);
}
