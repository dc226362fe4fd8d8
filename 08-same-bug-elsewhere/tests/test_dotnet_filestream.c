/* .NET's synchronous read on an overlapped file handle: when ReadFile fails at once, the
 * packet's share of the operation must be released by the caller, since no packet comes.
 * Built as it was (each failure leaks the operation) and with the fix (none leaks). */
#include "case_kit.h"
#include "case_support.h"
#include "dotnet_filestream.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { LEAKED_PER_FAILURE = 0 };
#else
enum { LEAKED_PER_FAILURE = 1 }; /* the operation, its OVERLAPPED and its event */
#endif

/* A temporary file holding "hello", opened for overlapped I/O with access, bound to a
 * new port (*port). */
static HANDLE open_bound_file(DWORD access, HANDLE *port)
{
    HANDLE file = case_overlapped_file("hello", access);
    *port = kit_port(file, 1);
    assert_non_null(*port);
    return file;
}

/* The report's repro: a read on a handle opened for writing only. */
static void reads_that_fail_at_once_leak_their_operation_unless_fixed(void **state)
{
    (void)state;
    HANDLE port;
    HANDLE file = open_bound_file(GENERIC_WRITE, &port);
    long before = kit_live();
    char buffer[16];
    DWORD read;

    for (int i = 0; i < 3; i++)
        tk_assert_error(fs_read_sync(file, buffer, sizeof buffer, &read), ERROR_ACCESS_DENIED);
    assert_false(fs_thread_pool_step(port, 200)); /* no packet came for any of them */

    assert_int_equal(kit_live() - before, 3 * LEAKED_PER_FAILURE);
    CloseHandle(port);
    CloseHandle(file);
}

/* The control, the same in both builds: a read that starts is freed by its last owner,
 * the thread pool, when the packet comes (it comes even when the read was done at once). */
static void a_read_that_starts_is_freed_after_its_packet_in_both_builds(void **state)
{
    (void)state;
    HANDLE port;
    HANDLE file = open_bound_file(GENERIC_READ, &port);
    long before = kit_live();
    char buffer[16];
    DWORD read;

    assert_int_equal(fs_read_sync(file, buffer, sizeof buffer, &read), 0);
    assert_int_equal(read, 5);
    assert_int_equal(kit_live() - before, 1); /* the thread pool's share is still out */
    assert_true(fs_thread_pool_step(port, TK_PROMPT_MS));

    assert_int_equal(kit_live() - before, 0);
    CloseHandle(port);
    CloseHandle(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_that_fail_at_once_leak_their_operation_unless_fixed),
        cmocka_unit_test(a_read_that_starts_is_freed_after_its_packet_in_both_builds),
    };
    return cmocka_run_group_tests_name("dotnet_filestream", tests, NULL, NULL);
}
