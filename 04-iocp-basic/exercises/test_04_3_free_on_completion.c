/* Checker of exercise 04.3 (find the bug): a reader's memory may be freed only when nothing
 * is pending on it, its socket is closed exactly once, and nothing touches the reader after
 * the packet that ends it may have been handled.
 *
 * - The reader's allocator never really frees during a test: a freed block is filled with a
 *   pattern and kept aside ("quarantined"), so a packet that still points into it is caught
 *   before any code touches it, and a later write into it shows in the pattern.
 * - The checker plays the fastest worker the scheduler allows. It watches CancelIoEx and
 *   closesocket (tutorial/import_hook.h): the moment reader_stop cancels the reader's
 *   receive or closes its socket, whichever comes first, another thread dequeues the packet
 *   that ended the receive and hands it to reader_on_packet, and only then does the call
 *   return to reader_stop. Whatever reader_stop writes into the reader after that shows in
 *   the quarantine's pattern.
 * - Where Wine answers CancelIoEx differently from Windows (an operation that has already
 *   finished: Wine 8 returns TRUE, Windows fails with ERROR_NOT_FOUND, as Microsoft's
 *   CancelIoEx page says), the checker gives the code Windows' answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buggy_reader.h"
#include "tutorial/checkkit.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { MAX_BLOCKS = 8, NO_PACKET_MS = 300, POISON = 0xDD };

/* ---- the quarantine allocator ------------------------------------------------------ */

typedef struct block {
    unsigned char *start;
    size_t size;
    volatile LONG frees; /* how many times reader_memory_free was called on it */
} block;

static block blocks[MAX_BLOCKS];
static volatile LONG block_count;
static volatile LONG allocator_misuse; /* reader_memory_free given a stranger's address */

void *reader_memory_alloc(size_t size)
{
    LONG i = InterlockedIncrement(&block_count) - 1;
    if (i >= MAX_BLOCKS)
        return NULL;
    unsigned char *start = malloc(size);
    blocks[i] = (block){start, size, 0};
    return start;
}

static block *find_block(const void *address)
{
    for (LONG i = 0; i < block_count && i < MAX_BLOCKS; i++)
        if ((const unsigned char *)address >= blocks[i].start &&
            (const unsigned char *)address < blocks[i].start + blocks[i].size)
            return &blocks[i];
    return NULL;
}

/* Quarantines the block instead of freeing it: the kernel may still write into it, and
 * the pattern shows any write that comes later. May run on the checker's worker thread,
 * where a test cannot fail: misuse is recorded and reported by the test. */
void reader_memory_free(void *start)
{
    block *b = find_block(start);
    if (b == NULL || b->start != (unsigned char *)start) {
        InterlockedIncrement(&allocator_misuse);
        return;
    }
    if (InterlockedIncrement(&b->frees) == 1)
        memset(b->start, POISON, b->size);
}

/* The first byte of a freed block that is no longer the pattern, or -1. */
static long written_after_free(const block *b)
{
    if (b->frees == 0)
        return -1;
    for (size_t i = 0; i < b->size; i++)
        if (b->start[i] != POISON)
            return (long)i;
    return -1;
}

static void release_blocks(void)
{
    for (LONG i = 0; i < block_count && i < MAX_BLOCKS; i++)
        free(blocks[i].start);
    block_count = 0;
    allocator_misuse = 0;
}

/* ---- the watched socket: closesocket and CancelIoEx ------------------------------------ */

typedef int(WSAAPI *closesocket_function)(SOCKET);
typedef BOOL(WINAPI *cancel_function)(HANDLE, LPOVERLAPPED);
static closesocket_function real_closesocket;
static cancel_function real_cancel_io_ex;

static SOCKET watched = INVALID_SOCKET; /* the reader's socket during a test */
static volatile LONG closes;            /* closesocket calls on it            */
static DWORD test_thread;               /* the thread that calls reader_stop  */

/* The fastest worker: waits for `go`, dequeues one packet and hands it to the reader,
 * then sets `done`. What it saw is kept for the test to judge. */
typedef struct fast_worker {
    HANDLE port, go, done, thread;
    volatile LONG released;
    bool delivered;        /* a packet came and was handed to reader_on_packet */
    bool into_freed;       /* ...it pointed into a reader already freed        */
    bool stranger;         /* ...it pointed into no reader at all              */
    BOOL ok;
    DWORD error;
} fast_worker;

static fast_worker worker;

static DWORD WINAPI run_fast_worker(void *unused)
{
    (void)unused;
    if (WaitForSingleObject(worker.go, 2 * TK_PROMPT_MS) != WAIT_OBJECT_0)
        return 1;
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    worker.ok = GetQueuedCompletionStatus(worker.port, &bytes, &key, &overlapped, TK_PROMPT_MS);
    worker.error = worker.ok ? 0 : GetLastError();
    if (overlapped != NULL) {
        block *b = find_block(overlapped);
        worker.stranger = b == NULL;
        worker.into_freed = b != NULL && b->frees > 0;
        if (b != NULL && b->frees == 0) {
            worker.delivered = true;
            reader_on_packet(overlapped, worker.ok, bytes);
        }
    }
    SetEvent(worker.done);
    return 0;
}

/* Where the fast worker was let go during the test, for the messages (NULL: no fast
 * worker; the last packet was handled on the test's thread after reader_stop returned). */
static const char *released_in;

static const char *what_ran_first(void)
{
    return released_in != NULL ? released_in
                               : "its last packet handled after reader_stop had returned";
}

/* Lets the fast worker go (once) and waits until it has handled its packet. */
static void release_fast_worker(const char *where)
{
    if (worker.go == NULL || InterlockedExchange(&worker.released, 1) != 0)
        return;
    released_in = where;
    SetEvent(worker.go);
    WaitForSingleObject(worker.done, TK_PROMPT_MS + 1000);
}

static int WSAAPI watching_closesocket(SOCKET s)
{
    if (s != watched || watched == INVALID_SOCKET)
        return real_closesocket(s);
    InterlockedIncrement(&closes);
    int result = real_closesocket(s);
    int error = WSAGetLastError();
    if (GetCurrentThreadId() == test_thread)
        release_fast_worker("its last packet handled by another thread inside closesocket, "
                            "before closesocket returned to reader_stop");
    WSASetLastError(error);
    return result;
}

static BOOL WINAPI windows_cancel_io_ex(HANDLE handle, LPOVERLAPPED overlapped)
{
    if ((SOCKET)handle != watched || watched == INVALID_SOCKET)
        return real_cancel_io_ex(handle, overlapped);
    /* Which operation would it cancel? The reader's (it has only one). */
    const OVERLAPPED *target = overlapped;
    if (target == NULL && block_count > 0)
        target = (const OVERLAPPED *)blocks[0].start;
    bool finished = target != NULL && HasOverlappedIoCompleted(target);
    BOOL result = real_cancel_io_ex(handle, overlapped);
    DWORD error = GetLastError();
    /* The worst case: the receive has ended (cancelled, or finished before), and a worker
     * handles its packet before CancelIoEx has returned to reader_stop. */
    if (GetCurrentThreadId() == test_thread)
        release_fast_worker("its last packet handled by another thread inside CancelIoEx, "
                            "before CancelIoEx returned to reader_stop");
    if (finished) { /* Windows: nothing outstanding to cancel */
        SetLastError(ERROR_NOT_FOUND);
        return FALSE;
    }
    SetLastError(error);
    return result;
}

static int hook_up(void **state)
{
    (void)state;
    real_closesocket = (closesocket_function)tk_hook_import(
        "closesocket", (tk_function)watching_closesocket);
    /* NULL when the reader calls no CancelIoEx (then nothing needs Windows' answer). */
    real_cancel_io_ex =
        (cancel_function)tk_hook_import("CancelIoEx", (tk_function)windows_cancel_io_ex);
    if (real_closesocket == NULL) {
        print_error("could not watch closesocket in the checker's imports\n");
        return -1;
    }
    return tk_winsock_up(state);
}

/* ---- the tests --------------------------------------------------------------------- */

typedef struct fixture {
    SOCKET client, server;
    HANDLE port;
} fixture;

static fixture set_up(void)
{
    fixture f;
    tk_socket_pair(&f.client, &f.server);
    f.port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(f.port);
    block_count = 0;
    closes = 0;
    watched = f.server;
    test_thread = GetCurrentThreadId();
    released_in = NULL;
    return f;
}

static void start_fast_worker(HANDLE port)
{
    memset(&worker, 0, sizeof worker);
    worker.port = port;
    worker.go = CreateEventA(NULL, TRUE, FALSE, NULL);
    worker.done = CreateEventA(NULL, TRUE, FALSE, NULL);
    assert_non_null(worker.go);
    assert_non_null(worker.done);
    worker.thread = CreateThread(NULL, 0, run_fast_worker, NULL, 0, NULL);
    assert_non_null(worker.thread);
}

static void stop_fast_worker(void)
{
    if (worker.thread == NULL)
        return;
    release_fast_worker("its last packet handled by another thread after reader_stop "
                        "returned");
    WaitForSingleObject(worker.thread, TK_PROMPT_MS);
    CloseHandle(worker.thread);
    CloseHandle(worker.go);
    CloseHandle(worker.done);
    memset(&worker, 0, sizeof worker);
}

static void tear_down(fixture *f)
{
    stop_fast_worker();
    watched = INVALID_SOCKET;
    closesocket(f->client);
    CloseHandle(f->port);
    release_blocks();
}

/* Dequeues one packet on the test's thread and hands it to the reader, unless it points
 * into memory the reader has already freed. Returns false when none came in timeout_ms. */
static bool deliver_one_packet(HANDLE port, DWORD timeout_ms, const char *after)
{
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, timeout_ms);
    if (overlapped == NULL)
        return false;
    block *b = find_block(overlapped);
    if (b == NULL)
        fail_msg("a packet arrived whose OVERLAPPED is not in any reader's memory");
    if (b->frees > 0)
        fail_msg("a completion packet arrived %s for a reader whose memory had ALREADY been "
                 "freed (GetQueuedCompletionStatus returned %s). In a real program the kernel "
                 "would have written into freed memory. Rule: a context is freed only when "
                 "the packet of its last operation has been dequeued.",
                 after, ok ? "TRUE" : "FALSE");
    reader_on_packet(overlapped, ok, bytes);
    return true;
}

/* What every test expects once the reader has ended. */
static void expect_ended_cleanly(const char *when)
{
    if (allocator_misuse > 0)
        fail_msg("reader_memory_free was given an address reader_memory_alloc never "
                 "returned");
    assert_int_equal(block_count, 1);
    if (blocks[0].frees != 1)
        fail_msg("expected the reader's memory freed exactly once %s; it was freed %ld "
                 "times (%s). Rule: whoever handles the reader's last packet frees it, once.",
                 when, (long)blocks[0].frees, what_ran_first());
    long offset = written_after_free(&blocks[0]);
    if (offset >= 0)
        fail_msg("something wrote into the reader's memory after it was freed (byte %ld of "
                 "the reader, %s). A worker on another thread may handle the packet of the "
                 "cancelled receive, and free the reader, the moment the cancel or the close "
                 "takes effect: rule: after that moment, reader_stop must not touch the "
                 "reader.",
                 offset, what_ran_first());
    if (closes != 1)
        fail_msg("expected the reader's socket closed exactly once %s; closesocket was "
                 "called on it %ld times. A second close of the same handle value can close "
                 "a socket that someone else has opened meanwhile: rule: exactly one party "
                 "closes the socket (%s).",
                 when, (long)closes, what_ran_first());
}

/* `rounds` times: the client sends a few bytes, their packet is handled on this thread,
 * and the reader's next receive is pending again. */
static void bytes_that_arrive_are_counted(fixture *f, reader *r, int rounds)
{
    long expected = 0;
    for (int i = 0; i < rounds; i++) {
        char data[32];
        int length = ck_random(1, (int)sizeof data);
        memset(data, 'a' + i, (size_t)length);
        assert_true(net_send_all(f->client, data, length));
        expected += length;
        if (!deliver_one_packet(f->port, TK_PROMPT_MS, "for the client's bytes"))
            fail_msg("expected a packet for the client's %d bytes within %d ms", length,
                     TK_PROMPT_MS);
        /* A short read can split the bytes: take packets until they are all counted. */
        while (reader_bytes(r) < expected)
            if (!deliver_one_packet(f->port, TK_PROMPT_MS, "for the client's bytes"))
                break;
        if (reader_bytes(r) != expected)
            fail_msg("expected the reader to have counted %ld bytes; it counted %ld",
                     expected, reader_bytes(r));
    }
}

/* How the packet that ends a stopped reader is handled: by the fastest worker, on its
 * own thread before closesocket returns to reader_stop, or later, on the test's thread
 * after reader_stop has returned. Both happen in a real server. */
typedef enum { HANDLED_AT_ONCE, HANDLED_LATER } handling;

/* Stops the reader and has its last packet handled `when`. */
static void stop_and_handle_the_last_packet(fixture *f, reader *r, handling when,
                                            const char *which)
{
    if (when == HANDLED_AT_ONCE)
        start_fast_worker(f->port);
    reader_stop(r);
    if (when == HANDLED_LATER) {
        if (!deliver_one_packet(f->port, TK_PROMPT_MS, "after reader_stop"))
            fail_msg("expected the packet of the %s receive within %d ms; none came", which,
                     TK_PROMPT_MS);
        return;
    }
    release_fast_worker("its last packet handled by another thread after reader_stop "
                        "returned"); /* in case reader_stop cancelled and closed nothing */
    if (worker.into_freed)
        fail_msg("the packet of the %s receive arrived for a reader whose memory had ALREADY "
                 "been freed. Rule: a context is freed only when the packet of its last "
                 "operation has been dequeued; cancelling or closing does not take the "
                 "packet back.",
                 which);
    if (!worker.delivered)
        fail_msg("expected the packet of the %s receive within %d ms; none came", which,
                 TK_PROMPT_MS);
    stop_fast_worker();
}

static void stop_a_reader_whose_receive_is_pending(handling when)
{
    fixture f = set_up();
    reader *r = reader_start(f.server, f.port);
    assert_non_null(r);
    bytes_that_arrive_are_counted(&f, r, ck_random(1, 3)); /* the next receive is pending */
    stop_and_handle_the_last_packet(&f, r, when, "cancelled");
    expect_ended_cleanly("after the packet of its cancelled receive was handled");
    if (deliver_one_packet(f.port, NO_PACKET_MS, "later"))
        fail_msg("expected no more packets after the cancelled receive");
    tear_down(&f);
}

static void stop_a_reader_whose_receive_just_finished(handling when)
{
    fixture f = set_up();
    reader *r = reader_start(f.server, f.port);
    assert_non_null(r);
    bytes_that_arrive_are_counted(&f, r, ck_random(1, 3));

    /* The next receive finishes and its packet waits on the port, undelivered: exercise
     * 04.2's situation. Stopping now cannot take the packet back. */
    assert_true(net_send_all(f.client, "late", 4));
    const OVERLAPPED *pending = (const OVERLAPPED *)blocks[0].start; /* offset 0 */
    if (!tk_wait_until_completed(pending, TK_PROMPT_MS))
        fail_msg("expected the reader's receive to finish within %d ms of the client's "
                 "send", TK_PROMPT_MS);
    stop_and_handle_the_last_packet(&f, r, when, "finished");
    if (blocks[0].frees == 0)
        fail_msg("expected the reader to end with the packet of its finished receive; it "
                 "was not freed. Did it post another receive on a reader that was being "
                 "stopped? Rule: once stopped, the reader's last packet ends it, whatever "
                 "that packet says.");
    expect_ended_cleanly("after its last packet was handled");
    if (deliver_one_packet(f.port, NO_PACKET_MS, "later"))
        fail_msg("expected no more packets after the reader's last one");
    tear_down(&f);
}

static void a_stopped_reader_is_freed_when_its_cancelled_receive_comes_back(void **state)
{
    (void)state;
    stop_a_reader_whose_receive_is_pending(HANDLED_LATER);
}

static void a_stopped_reader_survives_a_worker_that_handles_its_packet_at_once(void **state)
{
    (void)state;
    stop_a_reader_whose_receive_is_pending(HANDLED_AT_ONCE);
}

static void a_reader_stopped_after_its_receive_finished_is_freed_once(void **state)
{
    (void)state;
    stop_a_reader_whose_receive_just_finished(HANDLED_LATER);
}

static void a_reader_stopped_after_its_receive_finished_survives_a_fast_worker(void **state)
{
    (void)state;
    stop_a_reader_whose_receive_just_finished(HANDLED_AT_ONCE);
}

static void a_reader_whose_client_closes_ends_and_frees_itself_once(void **state)
{
    (void)state;
    fixture f = set_up();
    reader *r = reader_start(f.server, f.port);
    assert_non_null(r);
    bytes_that_arrive_are_counted(&f, r, ck_random(1, 3));
    assert_int_equal(shutdown(f.client, SD_SEND), 0);
    if (!deliver_one_packet(f.port, TK_PROMPT_MS, "for the client's end"))
        fail_msg("expected a packet for the client's end within %d ms", TK_PROMPT_MS);
    expect_ended_cleanly("after the client closed its side");
    tear_down(&f);
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_stopped_reader_is_freed_when_its_cancelled_receive_comes_back),
        cmocka_unit_test(a_stopped_reader_survives_a_worker_that_handles_its_packet_at_once),
        cmocka_unit_test(a_reader_stopped_after_its_receive_finished_is_freed_once),
        cmocka_unit_test(a_reader_stopped_after_its_receive_finished_survives_a_fast_worker),
        cmocka_unit_test(a_reader_whose_client_closes_ends_and_frees_itself_once),
    };
    return CK_RUN_CHECKER("exercise 04.3", tests, hook_up, tk_winsock_down);
}
