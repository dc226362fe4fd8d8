/* The AsyncIO fork's second fix: "if CancelIoEx fails, mark both contexts complete and
 * free them". CancelIoEx also fails (ERROR_NOT_FOUND) when the operation has finished and
 * its packet is still queued. Built twice: as the fix was (the packet comes for a freed
 * context, which the page heap stops) and as its revert left it (the packet frees it). */
#include <string.h>

#include "case_support.h"
#include "asyncio_cancel.h"
#include "case_kit.h"
#include "tutorial/fault_plan.h"
#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

static void plan(const char *text)
{
    char why[128];
    assert_true(fault_plan_set(text, why, sizeof why));
}

/* The bug, in a process of its own (asyncio_cancel_child.c), since it ends that process. */
static void a_dispose_told_not_found_while_a_packet_is_queued(void **state)
{
    (void)state;
    tk_process *child = tk_spawn(CASE_CHILD, "");
    assert_non_null(child);
    int status = tk_wait_exit(child, 4 * TK_PROMPT_MS);
    print_message("%s: exit %d\n%s", CASE_CHILD, status, tk_stderr(child));
#ifdef WITH_FIX
    assert_int_equal(status, 0); /* the packet, not dispose, freed the receive context */
#else
    assert_int_equal(status, PAGE_HEAP_FAULT_EXIT);
    assert_non_null(strstr(tk_stderr(child), "(use after free)"));
#endif
    tk_process_free(child);
}

/* The same in both builds: with nothing started, ERROR_NOT_FOUND (Windows' answer, planned
 * because Wine 8 answers TRUE) is true, and dispose frees everything at once. */
static void a_dispose_with_nothing_started_frees_both_contexts(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_ALONE);
    long before = kit_live();
    plan("cancel#1=fail:1168");

    aio_socket *s = aio_socket_new(port, server);
    assert_non_null(s);
    aio_dispose(s);
    assert_int_equal(fault_plan_fired("cancel"), 1);
    assert_int_equal(kit_live(), before);
    tk_assert_no_completion(port, 100);

    plan(NULL);
    closesocket(client);
    CloseHandle(port);
}

/* The same in both builds: a receive still pending is cancelled for real (CancelIoEx
 * succeeds), and its aborted packet frees the context after dispose. */
static void a_dispose_with_a_receive_pending_leaves_it_to_its_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_ALONE);
    long before = kit_live();

    aio_socket *s = aio_socket_new(port, server);
    assert_non_null(s);
    tk_assert_error(aio_receive(s), WSA_IO_PENDING);
    aio_dispose(s);
    assert_int_equal(kit_live() - before, 1); /* the receive context, in the kernel's hands */
    assert_true(aio_handle_completion(port, TK_PROMPT_MS));
    assert_int_equal(kit_live(), before);

    closesocket(client);
    CloseHandle(port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_dispose_told_not_found_while_a_packet_is_queued),
        cmocka_unit_test(a_dispose_with_nothing_started_frees_both_contexts),
        cmocka_unit_test(a_dispose_with_a_receive_pending_leaves_it_to_its_packet),
    };
    return cmocka_run_group_tests_name("asyncio_cancel", tests, tk_winsock_up, tk_winsock_down);
}
