/* CPython's overlapped object: a read or a send that fails at once must free its buffer
 * itself, because no packet will come to free it. Built twice: as it was (each failure
 * leaks one buffer) and with the fix (nothing leaks). */
#include "case_kit.h"
#include "case_support.h"
#include "cpython_overlapped.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { LEAKED_PER_FAILURE = 0 };
#else
enum { LEAKED_PER_FAILURE = 1 }; /* the buffer */
#endif

static void a_read_that_fails_at_once_frees_its_buffer_only_when_fixed(void **state)
{
    (void)state;
    /* Opened for writing only: ReadFile fails at once. */
    HANDLE file = case_overlapped_file("hello", GENERIC_WRITE);
    HANDLE port = kit_port(file, 1);
    assert_non_null(port);
    long before = kit_live();

    pyov *ov = pyov_new();
    tk_assert_error(pyov_read_file(ov, file, 4096), ERROR_ACCESS_DENIED);
    tk_assert_no_completion(port, 200); /* failed at once: no packet, ever */
    pyov_dealloc(ov);

    assert_int_equal(kit_live() - before, LEAKED_PER_FAILURE);
    CloseHandle(port);
    CloseHandle(file);
}

static void a_send_to_that_fails_at_once_frees_its_buffer_only_when_fixed(void **state)
{
    (void)state;
    long before = kit_live();
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(9);

    /* Not a socket, as in the report's script: WSASendTo fails at once. */
    pyov *ov = pyov_new();
    tk_assert_error(pyov_wsa_send_to(ov, (SOCKET)0x1234, "ping", 4, &to), WSAENOTSOCK);
    pyov_dealloc(ov);

    assert_int_equal(kit_live() - before, LEAKED_PER_FAILURE);
}

/* The control, the same in both builds: a read that starts is freed after its packet. */
static void a_read_that_starts_is_freed_after_its_packet_in_both_builds(void **state)
{
    (void)state;
    HANDLE file = case_overlapped_file("hello", GENERIC_READ);
    HANDLE port = kit_port(file, 1);
    assert_non_null(port);
    long before = kit_live();

    pyov *ov = pyov_new();
    DWORD started = pyov_read_file(ov, file, 4096);
    assert_true(started == 0 || started == ERROR_IO_PENDING);
    OVERLAPPED *packet;
    DWORD bytes, error;
    /* Done at once or later, the packet comes either way (no skip mode on this file). */
    assert_true(kit_dequeue(port, TK_PROMPT_MS, &packet, &bytes, &error));
    assert_ptr_equal(packet, &ov->overlapped);
    assert_int_equal(error, 0);
    assert_int_equal(pyov_result(ov, &bytes), 0);
    assert_int_equal(bytes, 5);
    assert_memory_equal(ov->buffer, "hello", 5);
    pyov_dealloc(ov);

    assert_int_equal(kit_live() - before, 0);
    CloseHandle(port);
    CloseHandle(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_read_that_fails_at_once_frees_its_buffer_only_when_fixed),
        cmocka_unit_test(a_send_to_that_fails_at_once_frees_its_buffer_only_when_fixed),
        cmocka_unit_test(a_read_that_starts_is_freed_after_its_packet_in_both_builds),
    };
    return cmocka_run_group_tests_name("cpython_overlapped", tests, tk_winsock_up,
                                       tk_winsock_down);
}
