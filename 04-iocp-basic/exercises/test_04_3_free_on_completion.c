/* Checker of exercise 04.3 (find the bug): a reader's memory may be freed only when nothing
 * is pending on it. The checker hands the reader an allocator that never really frees
 * during a test: a freed block is kept aside ("quarantined"), so a completion packet that
 * still points into it is caught here, safely, before any code touches it. */
#include <stdlib.h>
#include <string.h>

#include "buggy_reader.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

enum { MAX_BLOCKS = 8, NO_PACKET_MS = 300 };

typedef struct block {
    char *start;
    size_t size;
    int frees; /* how many times reader_memory_free was called on it */
} block;

static block blocks[MAX_BLOCKS];
static int block_count;

void *reader_memory_alloc(size_t size)
{
    assert_true(block_count < MAX_BLOCKS);
    char *start = malloc(size);
    assert_non_null(start);
    blocks[block_count++] = (block){start, size, 0};
    return start;
}

static block *find_block(const void *address)
{
    for (int i = 0; i < block_count; i++)
        if ((const char *)address >= blocks[i].start &&
            (const char *)address < blocks[i].start + blocks[i].size)
            return &blocks[i];
    return NULL;
}

/* Quarantines the block instead of freeing it: the kernel may still write into it. */
void reader_memory_free(void *start)
{
    block *b = find_block(start);
    if (b == NULL || b->start != (char *)start)
        fail_msg("reader_memory_free was given %p, which reader_memory_alloc never returned",
                 start);
    if (b->frees > 0)
        fail_msg("a reader's memory was freed twice");
    b->frees++;
}

/* Frees the quarantined blocks for real, once the test is sure no packet is left. */
static void release_blocks(void)
{
    for (int i = 0; i < block_count; i++)
        free(blocks[i].start);
    block_count = 0;
}

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
    return f;
}

static void tear_down(fixture *f)
{
    closesocket(f->client);
    CloseHandle(f->port);
    release_blocks();
}

/* Dequeues one packet and hands it to the reader, unless it points into memory the reader
 * has already freed: that is the bug this exercise is about, caught before it does harm.
 * Returns false when no packet came within timeout_ms. */
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
                 "freed (GetQueuedCompletionStatus returned %s, error %lu). In a real program "
                 "the kernel would have written into freed memory, and reader_on_packet would "
                 "free it a second time. Expected the reader's memory to stay allocated until "
                 "this packet arrived.",
                 after, ok ? "TRUE" : "FALSE", ok ? 0ul : (unsigned long)GetLastError());
    reader_on_packet(overlapped, ok, bytes);
    return true;
}

static void expect_freed_once(const char *when)
{
    assert_int_equal(block_count, 1);
    if (blocks[0].frees != 1)
        fail_msg("expected the reader's memory freed exactly once %s; it was freed %d times",
                 when, blocks[0].frees);
}

static void bytes_that_arrive_are_counted(fixture *f, reader *r)
{
    assert_true(net_send_all(f->client, "abc", 3));
    if (!deliver_one_packet(f->port, TK_PROMPT_MS, "for the client's bytes"))
        fail_msg("expected a packet for the client's 3 bytes within %d ms", TK_PROMPT_MS);
    assert_int_equal(reader_bytes(r), 3);
}

static void stopping_a_reader_frees_it_only_when_its_receive_comes_back(void **state)
{
    (void)state;
    fixture f = set_up();
    reader *r = reader_start(f.server, f.port);
    assert_non_null(r);
    bytes_that_arrive_are_counted(&f, r); /* and its next receive is pending now */

    reader_stop(r); /* the pending receive ends; its packet is on its way */
    if (!deliver_one_packet(f.port, TK_PROMPT_MS, "after reader_stop"))
        fail_msg("expected the packet of the cancelled receive within %d ms; none came",
                 TK_PROMPT_MS);
    expect_freed_once("after the packet of its cancelled receive was handled");
    if (deliver_one_packet(f.port, NO_PACKET_MS, "later"))
        fail_msg("expected no more packets after the cancelled receive");
    tear_down(&f);
}

static void stopping_a_reader_whose_receive_just_finished_frees_it_once(void **state)
{
    (void)state;
    fixture f = set_up();
    reader *r = reader_start(f.server, f.port);
    assert_non_null(r);
    bytes_that_arrive_are_counted(&f, r);

    /* The next receive finishes and its packet waits on the port, undelivered: exercise
     * 04.2's situation. Stopping now cannot take the packet back. */
    assert_true(net_send_all(f.client, "late", 4));
    const OVERLAPPED *pending = (const OVERLAPPED *)blocks[0].start; /* offset 0 */
    for (int waited = 0; !HasOverlappedIoCompleted(pending) && waited < TK_PROMPT_MS;
         waited += 5)
        Sleep(5);
    reader_stop(r);
    if (!deliver_one_packet(f.port, TK_PROMPT_MS, "after reader_stop"))
        fail_msg("expected the packet of the finished receive within %d ms; none came",
                 TK_PROMPT_MS);
    expect_freed_once("after its last packet was handled");
    if (deliver_one_packet(f.port, NO_PACKET_MS, "later"))
        fail_msg("expected no more packets after the reader's last one");
    tear_down(&f);
}

static void a_reader_whose_client_closes_ends_and_frees_itself_once(void **state)
{
    (void)state;
    fixture f = set_up();
    reader *r = reader_start(f.server, f.port);
    assert_non_null(r);
    bytes_that_arrive_are_counted(&f, r);
    assert_int_equal(shutdown(f.client, SD_SEND), 0);
    if (!deliver_one_packet(f.port, TK_PROMPT_MS, "for the client's end"))
        fail_msg("expected a packet for the client's end within %d ms", TK_PROMPT_MS);
    expect_freed_once("after the client closed its side");
    tear_down(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stopping_a_reader_frees_it_only_when_its_receive_comes_back),
        cmocka_unit_test(stopping_a_reader_whose_receive_just_finished_frees_it_once),
        cmocka_unit_test(a_reader_whose_client_closes_ends_and_frees_itself_once),
    };
    return cmocka_run_group_tests_name("exercise 04.3", tests, tk_winsock_up, tk_winsock_down);
}
