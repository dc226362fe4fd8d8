/* .NET's SocketAsyncEventArgs: a send done at once is completed on the calling thread;
 * once it is marked complete, a dispose that was waiting for it frees the object, so
 * nothing may touch the object after. Built as it was (the OVERLAPPED is given back after
 * completing: a use-after-free, which the page heap stops) and with the fix (before). */
#include <string.h>

#include "case_support.h"
#include "case_kit.h"
#include "dotnet_saea.h"
#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

static void a_dispose_during_a_send_done_at_once(void **state)
{
    (void)state;
    tk_process *child = tk_spawn(CASE_CHILD, "");
    assert_non_null(child);
    int status = tk_wait_exit(child, TK_PROMPT_MS * 2);
    print_message("%s: exit %d\n%s%s", CASE_CHILD, status, tk_stdout(child), tk_stderr(child));
#ifdef WITH_FIX
    assert_int_equal(status, 0); /* freed once, at completion, and not touched after */
#else
    assert_int_equal(status, PAGE_HEAP_FAULT_EXIT);
    assert_non_null(strstr(tk_stderr(child), "(use after free)"));
#endif
    tk_process_free(child);
}

/* The same in both builds: in skip mode a send done at once queues no packet, which is
 * why its completion runs on the calling thread. */
static void a_send_done_at_once_in_skip_mode_queues_no_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_CLIENT);
    long before = kit_live();

    saea *e = saea_new(client);
    DWORD error = 0;
    assert_false(saea_send(e, "ping", 4, &error)); /* done at once */
    assert_int_equal(error, 0);
    assert_int_equal(e->bytes, 4);
    tk_assert_no_completion(port, 200);
    saea_dispose(e); /* nothing in flight: freed now */

    assert_int_equal(kit_live() - before, 0);
    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_dispose_during_a_send_done_at_once),
        cmocka_unit_test(a_send_done_at_once_in_skip_mode_queues_no_packet),
    };
    return cmocka_run_group_tests_name("dotnet_saea", tests, tk_winsock_up, tk_winsock_down);
}
