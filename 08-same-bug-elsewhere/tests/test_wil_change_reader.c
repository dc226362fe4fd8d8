/* WIL's folder change reader: its destructor cancels the read and waits for it to let go
 * of the OVERLAPPED. When the read's last restart failed at once, nothing runs: CancelIoEx
 * answers ERROR_NOT_FOUND and the wait never ends. Built twice: as PR #326 left it (the
 * wait hangs; here it gives up after a bound) and with PR #386 (no wait on ERROR_NOT_FOUND). */
#include "case_kit.h"
#include "tutorial/testkit.h"
#include "wil_change_reader.h"

enum { PATIENCE_MS = 500 };

/* A reader whose first read got a notification, and whose restart then failed at once:
 * the receive side was shut down in between (for WIL, the folder was deleted). */
static wil_reader *a_reader_whose_restart_failed(SOCKET *client, SOCKET *server)
{
    tk_socket_pair(client, server);
    wil_reader *reader = wil_reader_new(*server);
    assert_non_null(reader);
    assert_int_equal(send(*client, "changed", 7, 0), 7);
    assert_true(tk_wait_until_completed(&reader->overlapped, TK_PROMPT_MS));
    assert_int_equal(shutdown(*server, SD_RECEIVE), 0);
    assert_true(wil_reader_dispatch(reader, TK_PROMPT_MS)); /* the callback, the restart */
    assert_int_equal(reader->notifications, 1);
    tk_assert_no_completion(reader->port, 100); /* the restart failed at once: no packet */
    /* Nothing runs, yet the OVERLAPPED still reads "pending": nobody wrote its end. */
    assert_false(HasOverlappedIoCompleted(&reader->overlapped));
    return reader;
}

static void closing_after_a_failed_restart_waits_for_a_packet_that_never_comes(void **state)
{
    (void)state;
    long before = kit_live();
    SOCKET client, server;
    wil_reader *reader = a_reader_whose_restart_failed(&client, &server);

    DWORD started = GetTickCount();
    bool finished = wil_reader_close(reader, PATIENCE_MS);
    DWORD waited = GetTickCount() - started;
    print_message("close: %s after %lu ms\n", finished ? "finished" : "gave up", waited);
#ifdef WITH_FIX
    assert_true(finished); /* ERROR_NOT_FOUND: nothing to wait for */
    assert_true(waited < PATIENCE_MS);
#else
    assert_false(finished); /* WIL's destructor would still be waiting */
#endif
    assert_int_equal(kit_live(), before);
    closesocket(client);
}

/* The same in both builds: with a read running, CancelIoEx finds it, the read ends as
 * aborted, and the wait returns at once. */
static void closing_with_a_read_running_waits_only_for_the_cancel(void **state)
{
    (void)state;
    long before = kit_live();
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    wil_reader *reader = wil_reader_new(server);
    assert_non_null(reader);
    assert_false(HasOverlappedIoCompleted(&reader->overlapped));

    assert_true(wil_reader_close(reader, PATIENCE_MS));
    assert_int_equal(kit_live(), before);
    closesocket(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closing_after_a_failed_restart_waits_for_a_packet_that_never_comes),
        cmocka_unit_test(closing_with_a_read_running_waits_only_for_the_cancel),
    };
    return cmocka_run_group_tests_name("wil_change_reader", tests, tk_winsock_up,
                                       tk_winsock_down);
}
