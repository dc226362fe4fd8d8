/* Checker of exercise 02.2 (find the bug): echo_session must echo every byte exactly
 * once, whether the bytes were already waiting when a receive started (WSARecv finishes
 * at once) or arrive while the receive is pending (then the event says when). And it must
 * stay what it is, an overlapped receive and a wait for its event: the checker watches the
 * session's receives through its program's import table (tutorial/import_hook.h), and a
 * blocking recv fails the exercise however well it echoes.
 *
 * The bytes and their sizes change from run to run (the seed is printed first;
 * TUTORIAL_SEED=N replays a run). */
#include <stdio.h>
#include <string.h>

#include "buggy_echo.h"
#include "tutorial/checkkit.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* ---- the session's receives, as it asks Windows for them -------------------------------- */

typedef int(WSAAPI *recv_function)(SOCKET, char *, int, int);
typedef int(WSAAPI *wsa_recv_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
                                       LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
static recv_function real_recv;
static wsa_recv_function real_wsa_recv;
static volatile SOCKET watched = INVALID_SOCKET; /* the session's socket */
static volatile LONG blocking_receives, overlapped_receives;
static HANDLE receive_pending; /* auto-reset: set each time the session's WSARecv pends */
static volatile HANDLE pending_event; /* the hEvent of the OVERLAPPED of that receive */

static int WSAAPI watched_recv(SOCKET s, char *buffer, int length, int flags)
{
    if (s == watched)
        InterlockedIncrement(&blocking_receives);
    return real_recv(s, buffer, length, flags);
}

static int WSAAPI watched_wsa_recv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received,
                                   LPDWORD flags, LPWSAOVERLAPPED overlapped,
                                   LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    if (s != watched)
        return real_wsa_recv(s, buffers, count, received, flags, overlapped, routine);
    InterlockedIncrement(overlapped != NULL ? &overlapped_receives : &blocking_receives);
    int result = real_wsa_recv(s, buffers, count, received, flags, overlapped, routine);
    int error = WSAGetLastError();
    if (result == SOCKET_ERROR && error == WSA_IO_PENDING) {
        InterlockedExchangePointer((PVOID volatile *)&pending_event, overlapped->hEvent);
        SetEvent(receive_pending);
    }
    WSASetLastError(error); /* SetEvent may have changed it */
    return result;
}

static void watch_receives(void)
{
    /* Through tk_function, void (*)(void): the one cast between function types compilers
     * accept. */
    /* A function this program does not import is not hooked: nothing here calls it. */
    receive_pending = CreateEventA(NULL, FALSE, FALSE, NULL);
    assert_non_null(receive_pending);
    real_recv = (recv_function)tk_hook_import("recv", (tk_function)watched_recv);
    real_wsa_recv = (wsa_recv_function)tk_hook_import("WSARecv", (tk_function)watched_wsa_recv);
}

/* While its receive is pending and no byte comes, the session's thread must sleep in a wait
 * on that receive's event: watched over QUIET_MS, it must not wake on a timeout (a look
 * every millisecond or every second alike), and it must be inside a wait whose handles
 * include the event. A thread that is slow to reach its wait (a busy machine) is watched
 * again, up to TK_PROMPT_MS in all. Nothing but the bytes can end the wait: it has no
 * timeout, which would wake an idle session to look again. */
enum { QUIET_MS = 300 };

static void expect_asleep_on_the_receive_event(DWORD thread, int message, int count)
{
    ck_threads session = {{thread}, 1};
    HANDLE event = InterlockedCompareExchangePointer((PVOID volatile *)&pending_event, NULL, NULL);
    HANDLE waited[MAXIMUM_WAIT_OBJECTS];
    int waited_count = -1;
    DWORD timeout_ms = INFINITE;
    bool on_the_event = false;
    ck_quiet quiet = {0};
    for (DWORD spent = 0; !on_the_event && spent < TK_PROMPT_MS; spent += QUIET_MS) {
        quiet = ck_watch_quiet(&session, QUIET_MS);
        waited_count = ck_thread_waits_on(thread, waited, MAXIMUM_WAIT_OBJECTS, &timeout_ms);
        for (int i = 0; i < waited_count && i < MAXIMUM_WAIT_OBJECTS; i++)
            on_the_event = on_the_event || waited[i] == event;
        if (!ck_quiet_slept_through(&quiet))
            break;
    }
    if (on_the_event && timeout_ms != INFINITE)
        fail_msg("expected the session's thread, while its receive for message %d of %d is "
                 "pending, to wait on that receive's event until bytes come; its wait on the "
                 "event has a timeout of %lu ms, so an idle session wakes up every %lu ms to "
                 "look again: that is polling, however long the timeout. The event is "
                 "signalled when the receive completes",
                 message, count, (unsigned long)timeout_ms, (unsigned long)timeout_ms);
    if (!ck_quiet_slept_through(&quiet) || !on_the_event)
        fail_msg("expected the session's thread, while its receive for message %d of %d is "
                 "pending, to sleep in a wait on that receive's event until bytes come; in a "
                 "quiet %lu ms it used %.0f ms of CPU, woke up %ld times (%ld of them because "
                 "a wait's timeout ran out), and it %s. A thread that looks again and again "
                 "(Sleep, a timeout, WSAGetOverlappedResult without waiting) is polling: the "
                 "event is signalled when the receive completes",
                 message, count, (unsigned long)quiet.ms, quiet.cpu_ms, quiet.wakeups,
                 quiet.timeouts,
                 waited_count < 0   ? "was not inside a wait at the end"
                 : waited_count == 0 ? "was asleep without waiting on any handle"
                 : on_the_event      ? "was waiting on the receive's event at the end"
                                     : "was waiting on other handles than the receive's event");
}

static void expect_overlapped_receives_only(void)
{
    LONG blocking = InterlockedCompareExchange(&blocking_receives, 0, 0);
    LONG overlapped = InterlockedCompareExchange(&overlapped_receives, 0, 0);
    if (blocking != 0 || overlapped == 0)
        fail_msg("expected the session to receive only with overlapped WSARecv calls and wait "
                 "for their event, as step02-server does; it made %ld blocking receives (recv, "
                 "or WSARecv without an OVERLAPPED) and %ld overlapped ones. The bug is in how "
                 "the outcome of an overlapped receive is handled: fix that, do not replace it",
                 (long)blocking, (long)overlapped);
}

typedef struct running_session {
    SOCKET s;
    HANDLE thread;
    volatile LONG result; /* -1 while it runs, then 1 (true) or 0 (false) */
} running_session;

static DWORD WINAPI run_session(void *argument)
{
    running_session *r = argument;
    InterlockedExchange(&r->result, echo_session(r->s) ? 1 : 0);
    return 0;
}

static void start_session(running_session *r, SOCKET s)
{
    watched = s;
    ResetEvent(receive_pending);
    InterlockedExchange(&blocking_receives, 0);
    InterlockedExchange(&overlapped_receives, 0);
    r->s = s;
    r->result = -1;
    r->thread = CreateThread(NULL, 0, run_session, r, 0, NULL);
    assert_non_null(r->thread);
}

static void expect_session_ended_well(running_session *r)
{
    if (WaitForSingleObject(r->thread, TK_PROMPT_MS) != WAIT_OBJECT_0)
        fail_msg("expected echo_session to return within %d ms of the client closing its "
                 "side; it was still running",
                 TK_PROMPT_MS);
    CloseHandle(r->thread);
    assert_int_equal(r->result, 1);
}

/* Reads everything until the end of the stream (bounded by the receive timeout). */
static size_t read_to_end(SOCKET s, char *buffer, size_t size)
{
    size_t got = 0;
    for (;;) {
        int n = recv(s, buffer + got, (int)(size - got), 0);
        assert_true(n >= 0); /* not a timeout, not an error */
        if (n == 0)
            return got;
        got += (size_t)n;
        assert_true(got < size);
    }
}

/* A message of `length` random letters, so that a byte echoed twice shows. */
static void random_message(char *message, size_t length)
{
    for (size_t i = 0; i < length; i++)
        message[i] = (char)('a' + ck_random(0, 25));
    message[length] = '\0';
}

static void expect_echoed_once(const char *sent, const char *back, size_t back_length)
{
    size_t length = strlen(sent);
    if (back_length != length || memcmp(back, sent, length) != 0)
        fail_msg("expected each byte echoed exactly once: sent %u bytes \"%.40s%s\", got %u "
                 "back \"%.40s%s\"",
                 (unsigned)length, sent, length > 40 ? "..." : "", (unsigned)back_length,
                 back, back_length > 40 ? "..." : "");
}

static void bytes_waiting_before_the_receive_starts_are_echoed_once(void **state)
{
    (void)state;
    static char message[4096], back[8192];
    random_message(message, (size_t)ck_random(1, 3000));
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    assert_true(net_send_all(client, message, strlen(message)));
    assert_int_equal(shutdown(client, SD_SEND), 0);
    tk_wait_readable(server, TK_PROMPT_MS); /* the first WSARecv will finish at once */

    running_session r;
    start_session(&r, server);
    expect_session_ended_well(&r);
    closesocket(server);

    size_t got = read_to_end(client, back, sizeof back);
    print_message("measured: %u bytes waiting before the session began, %u came back\n",
                  (unsigned)strlen(message), (unsigned)got);
    expect_echoed_once(message, back, got);
    expect_overlapped_receives_only();
    closesocket(client);
}

static void messages_sent_one_at_a_time_are_each_echoed_once(void **state)
{
    (void)state;
    int count = ck_random(3, 7);
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_true(net_set_recv_timeout(client, TK_PROMPT_MS));
    running_session r;
    start_session(&r, server); /* its receives are pending now, or start soon after */
    for (int i = 0; i < count; i++) {
        char message[256], back[256] = {0};
        random_message(message, (size_t)ck_random(1, 200));
        size_t length = strlen(message);
        /* Sent only once the session's receive waits for it: the pending case, every time. */
        if (WaitForSingleObject(receive_pending, TK_PROMPT_MS) != WAIT_OBJECT_0)
            fail_msg("expected the session to start an overlapped receive that waits for "
                     "message %d of %d (WSARecv returning WSA_IO_PENDING); none came within "
                     "%d ms",
                     i + 1, count, TK_PROMPT_MS);
        if (i < 2) /* twice is enough to see how it waits */
            expect_asleep_on_the_receive_event(GetThreadId(r.thread), i + 1, count);
        assert_true(net_send_all(client, message, length));
        if (!net_recv_all(client, back, length))
            fail_msg("expected message %d of %d (%u bytes, sent while a receive was pending) "
                     "echoed within %d ms; it was not",
                     i + 1, count, (unsigned)length, TK_PROMPT_MS);
        expect_echoed_once(message, back, length);
    }
    assert_int_equal(shutdown(client, SD_SEND), 0);
    expect_session_ended_well(&r);
    closesocket(server);
    char rest[64];
    size_t extra = read_to_end(client, rest, sizeof rest);
    if (extra != 0)
        fail_msg("expected nothing more after the echoes; got %u more bytes", (unsigned)extra);
    expect_overlapped_receives_only();
    closesocket(client);
}

int main(void)
{
    ck_seed();
    ck_watch_waits();
    watch_receives();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_waiting_before_the_receive_starts_are_echoed_once),
        cmocka_unit_test(messages_sent_one_at_a_time_are_each_echoed_once),
    };
    return CK_RUN_CHECKER("exercise 02.2", tests, tk_winsock_up, tk_winsock_down);
}
