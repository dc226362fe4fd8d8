/* pjsip's IOCP ioqueue: a key is freed when its socket is unregistered, while the packet
 * of its cancelled receive is still on its way. Built twice: as it was (the packet points
 * into freed memory, and the page heap stops the program that touches it) and with the
 * fix (the last packet, not the unregister, frees the key). */
#include <string.h>

#include "case_support.h"
#include "case_kit.h"
#include "pjsip_ioqueue.h"
#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { CHILD_EXIT = 0 };
#else
enum { CHILD_EXIT = PAGE_HEAP_FAULT_EXIT };
#endif

/* The bug, in a process of its own (pjsip_ioqueue_child.c), since it ends that process. */
static void unregistering_with_a_receive_pending_frees_the_key_too_early_unless_fixed(
    void **state)
{
    (void)state;
    tk_process *child = tk_spawn(CASE_CHILD, "");
    assert_non_null(child);
    int status = tk_wait_exit(child, 4 * TK_PROMPT_MS);
    print_message("child exit %d\n%s", status, tk_stderr(child));
    assert_int_equal(status, CHILD_EXIT);
#ifndef WITH_FIX
    assert_non_null(strstr(tk_stderr(child), "(use after free)"));
#endif
    tk_process_free(child);
}

/* The controls, the same in both builds: with nothing pending the key goes at once, and a
 * receive that completes hands its bytes to its key, which is freed after. */
static void a_key_with_nothing_pending_is_freed_at_unregister(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_ALONE);
    long before = kit_live();

    pj_key *key = pj_key_register(port, server);
    assert_non_null(key);
    pj_key_unregister(key);
    assert_int_equal(kit_live(), before);
    tk_assert_no_completion(port, 100);

    closesocket(client);
    CloseHandle(port);
}

static void a_completed_receive_reaches_its_key_before_the_key_goes(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_ALONE);
    long before = kit_live();

    pj_key *key = pj_key_register(port, server);
    assert_non_null(key);
    DWORD started = pj_key_start_receive(key);
    assert_true(started == 0 || started == WSA_IO_PENDING);
    assert_int_equal(send(client, "invite", 6, 0), 6);
    DWORD error = 1;
    assert_true(pj_ioqueue_poll(port, TK_PROMPT_MS, &error));
    assert_int_equal(error, 0);
    assert_int_equal(key->received, 6);
    pj_key_unregister(key);
    assert_int_equal(kit_live(), before);

    closesocket(client);
    CloseHandle(port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unregistering_with_a_receive_pending_frees_the_key_too_early_unless_fixed),
        cmocka_unit_test(a_key_with_nothing_pending_is_freed_at_unregister),
        cmocka_unit_test(a_completed_receive_reaches_its_key_before_the_key_goes),
    };
    return cmocka_run_group_tests_name("pjsip_ioqueue", tests, tk_winsock_up,
                                       tk_winsock_down);
}
