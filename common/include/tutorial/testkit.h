/* Test helpers shared by every step's cmocka tests. Include this instead of cmocka.h:
 * cmocka needs <stdarg.h>, <stddef.h> and <setjmp.h> first. Every wait here is bounded. */
#ifndef TUTORIAL_TESTKIT_H
#define TUTORIAL_TESTKIT_H

#include <winsock2.h>
#include <windows.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* How long a test waits for something that should happen "at once" on loopback. */
enum { TK_PROMPT_MS = 5000 };

/* Group setup and teardown that start and stop Winsock. */
int tk_winsock_up(void **state);
int tk_winsock_down(void **state);

/* Group setup of a test that drives outcomes: Winsock up, and the import layer's
 * stand-ins installed (tutorial/faults.h), so that fault_plan_set() reaches every call the
 * program makes. tk_winsock_down ends it. */
int tk_faults_up(void **state);

/* A connected loopback pair of blocking sockets: *client connected to *server. */
void tk_socket_pair(SOCKET *client, SOCKET *server);

/* Waits until bytes or an end (FIN or RST) are ready to read on s; fails the test after
 * timeout_ms. */
void tk_wait_readable(SOCKET s, DWORD timeout_ms);

/* Fills buffer with a pattern that differs per seed, so mixed-up replies are caught. */
void tk_fill_pattern(unsigned char *buffer, size_t length, unsigned seed);

/* Asserts that no completion packet comes to port within quiet_ms (Wine's own test
 * pattern): the outputs start as sentinels, and GetQueuedCompletionStatus must return FALSE
 * with WAIT_TIMEOUT and write NULL over the OVERLAPPED sentinel. */
void tk_assert_no_completion(HANDLE port, DWORD quiet_ms);

/* Assert that a Win32 or Winsock error code, or the result of a wait, is the one expected;
 * a failure says both in words ("expected ERROR_NETNAME_DELETED (64), got WSAECONNRESET
 * (10054)", "expected WAIT_OBJECT_0, got WAIT_TIMEOUT (258)") instead of two hex numbers. */
#define tk_assert_error(actual, expected) \
    tk_assert_error_at((DWORD)(actual), (DWORD)(expected), __FILE__, __LINE__)
#define tk_assert_wait(actual, expected) \
    tk_assert_wait_at((DWORD)(actual), (DWORD)(expected), __FILE__, __LINE__)
void tk_assert_error_at(DWORD actual, DWORD expected, const char *file, int line);
void tk_assert_wait_at(DWORD actual, DWORD expected, const char *file, int line);

/* The name of a wait's result: WAIT_OBJECT_0 + n, WAIT_ABANDONED_0 + n, WAIT_TIMEOUT,
 * WAIT_IO_COMPLETION, WAIT_FAILED; written into buf when it needs a number. */
const char *tk_wait_result_name(DWORD result, char *buf, size_t size);

/* True when the test runs under Wine (ntdll exports wine_get_version), for the few rules
 * where Wine and Windows are known to differ. */
bool tk_under_wine(void);

/* Polls condition(context) every few milliseconds until it returns true or timeout_ms pass;
 * returns its last answer. Only for what no event, handle or completion announces (a
 * counter, a thread count): wait on those directly where they exist. */
bool tk_wait_until(bool (*condition)(void *context), void *context, DWORD timeout_ms);

/* Waits until the system has finished the operation of overlapped (it stores the status in
 * the OVERLAPPED, which HasOverlappedIoCompleted reads, before it signals or queues
 * anything); false when timeout_ms pass first. */
bool tk_wait_until_completed(const OVERLAPPED *overlapped, DWORD timeout_ms);

/* Creates a fresh, empty file in the temporary folder and writes its name into path. */
void tk_temp_file(char path[MAX_PATH]);

/* Full path of a program of the project (<build>/bin/NAME.exe), found beside the tests
 * directory this test runs from. */
void tk_program_path(const char *name, char *path, size_t size);

/* A child process with its stdout and stderr collected by reader threads. */
typedef struct tk_process tk_process;

/* Starts <build>/bin/PROGRAM.exe with ARGS (one string, as on a command line). */
tk_process *tk_spawn(const char *program, const char *args);

/* Waits until stdout has a complete line starting with prefix, after the line that the
 * previous call matched (so waiting twice for the same prefix finds two lines); copies it
 * (without its end) into line. Returns false when timeout_ms pass or the process ends first. */
bool tk_wait_for_line(tk_process *p, const char *prefix, DWORD timeout_ms, char *line,
                      size_t size);

/* Starts a server and waits for "listening on 127.0.0.1:PORT"; returns the port. */
unsigned short tk_start_server(tk_process **p, const char *program, const char *args);

/* Waits for the process to exit (fails the test after timeout_ms, killing it) and
 * returns its exit status. */
int tk_wait_exit(tk_process *p, DWORD timeout_ms);

/* All stdout / stderr collected so far, as a NUL-terminated string. */
const char *tk_stdout(tk_process *p);
const char *tk_stderr(tk_process *p);

/* Kills the process if it still runs, and frees everything. */
void tk_process_free(tk_process *p);

#endif
