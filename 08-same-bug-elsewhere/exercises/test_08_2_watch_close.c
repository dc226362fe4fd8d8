/* Checker of exercise 08.2 (find the bug): watch_close must free a watch exactly once, and
 * never while a packet for it is still to come. Three situations at close: the receive has
 * finished and its packet is queued, the receive is still running, the last start failed at
 * once. The checker never touches a watch it has seen freed: it compares pointers and
 * counts blocks (kit_live). */
#include "buggy_watch.h"
#include "case_kit.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"
#include "tutorial/checkkit.h"

/* ---- the watched socket's closes (closesocket, through the import table) --------------- */

typedef int(WSAAPI *closesocket_function)(SOCKET);
static closesocket_function real_closesocket;
static SOCKET watched = INVALID_SOCKET;
static volatile LONG closes; /* closesocket calls on the watched socket */

static int WSAAPI counting_closesocket(SOCKET s)
{
    if (s == watched)
        InterlockedIncrement(&closes);
    return real_closesocket(s);
}

static int hook_up(void **state)
{
    real_closesocket =
        (closesocket_function)tk_hook_import("closesocket", (tk_function)counting_closesocket);
    if (real_closesocket == NULL) {
        print_error("could not watch closesocket in the checker's imports\n");
        return -1;
    }
    return tk_winsock_up(state);
}

/* A socket handle is a number Windows hands out again once it is closed: a second close
 * closes whatever socket got the number since, someone else's. */
static void closed_once(void)
{
    if (closes != 1)
        fail_msg("expected the watch's socket to be closed exactly once by the time the "
                 "watch is freed; closesocket was called on it %ld time(s)", (long)closes);
}

typedef struct setup {
    SOCKET peer, mine;
    HANDLE port;
    long before; /* blocks alive before the watch */
} setup;

static setup open_setup(void)
{
    setup s;
    tk_socket_pair(&s.peer, &s.mine);
    s.port = kit_port(NULL, 0);
    assert_non_null(s.port);
    s.before = kit_live();
    watched = s.mine;
    closes = 0;
    return s;
}

static void close_setup(setup s)
{
    closesocket(s.peer);
    CloseHandle(s.port);
}

static bool freed(const setup *s)
{
    return kit_live() == s->before;
}

/* Takes the packet for w from the port without touching w. */
static bool packet_for(const setup *s, const watch *w, DWORD timeout_ms, DWORD *bytes,
                       DWORD *error)
{
    OVERLAPPED *done;
    if (!kit_dequeue(s->port, timeout_ms, &done, bytes, error))
        return false;
    if (done != &w->overlapped)
        fail_msg("expected every packet to carry the watch's OVERLAPPED; one carried %p",
                 (void *)done);
    return true;
}

static void close_after_the_receive_finished_with_its_packet_queued(void **state)
{
    (void)state;
    setup s = open_setup();
    assert_true(net_send_all(s.peer, "changed", 7));
    tk_wait_readable(s.mine, TK_PROMPT_MS); /* the bytes are there before the receive */
    watch *w = watch_open(s.port, s.mine);
    assert_non_null(w);
    assert_true(tk_wait_until_completed(&w->overlapped, TK_PROMPT_MS)); /* finished at once */

    watch_close(w); /* its packet is still in the port's queue */
    bool freed_at_close = freed(&s);
    DWORD bytes, error;
    bool packet = packet_for(&s, w, TK_PROMPT_MS, &bytes, &error);
    if (packet && freed_at_close)
        fail_msg("watch_close freed the watch while the packet of its receive was still "
                 "queued: that packet now points into freed memory. A receive that has "
                 "already finished cannot be cancelled any more, yet its packet still comes");
    if (!packet)
        fail_msg("expected the finished receive's packet to come; none did within %d ms",
                 TK_PROMPT_MS);
    watch_on_packet(w, bytes, error);
    if (!freed(&s))
        fail_msg("expected the watch to be freed once its last packet was handled; %ld "
                 "block(s) are still allocated", kit_live() - s.before);
    closed_once();
    close_setup(s);
}

static void close_while_the_receive_is_running(void **state)
{
    (void)state;
    setup s = open_setup();
    watch *w = watch_open(s.port, s.mine); /* the peer sends nothing: the receive waits */
    assert_non_null(w);
    assert_false(HasOverlappedIoCompleted(&w->overlapped));

    watch_close(w);
    if (freed(&s))
        fail_msg("watch_close freed the watch while its receive was still running: the "
                 "kernel may still write into it, and the cancelled receive still ends with "
                 "a packet that points into it");
    DWORD bytes, error;
    if (!packet_for(&s, w, TK_PROMPT_MS, &bytes, &error))
        fail_msg("expected the running receive to end with a packet after watch_close "
                 "(cancelled, or aborted by the socket's close); none came within %d ms",
                 TK_PROMPT_MS);
    watch_on_packet(w, bytes, error);
    if (!freed(&s))
        fail_msg("expected the watch to be freed by its last packet; %ld block(s) are "
                 "still allocated", kit_live() - s.before);
    closed_once();
    close_setup(s);
}

static void close_after_a_restart_that_failed_at_once(void **state)
{
    (void)state;
    setup s = open_setup();
    watch *w = watch_open(s.port, s.mine);
    assert_non_null(w);
    assert_true(net_send_all(s.peer, "changed", 7));
    DWORD bytes, error;
    assert_true(packet_for(&s, w, TK_PROMPT_MS, &bytes, &error));
    assert_int_equal(shutdown(s.mine, SD_RECEIVE), 0); /* the next receive fails at once */
    watch_on_packet(w, bytes, error);                  /* a notification, and the restart */
    assert_int_equal(w->notifications, 1);

    watch_close(w);
    bool packet = packet_for(&s, w, 300, &bytes, &error);
    if (packet)
        fail_msg("expected no packet after a restart that failed at once; one came");
    if (!freed(&s))
        fail_msg("watch_close left the watch to a packet that will never come: the last "
                 "receive failed at once, and a call that fails at once brings no packet. "
                 "%ld block(s) leaked", kit_live() - s.before);
    closed_once();
    close_setup(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_after_the_receive_finished_with_its_packet_queued),
        cmocka_unit_test(close_while_the_receive_is_running),
        cmocka_unit_test(close_after_a_restart_that_failed_at_once),
    };
    return CK_RUN_CHECKER("exercise 08.2", tests, hook_up, tk_winsock_down);
}
