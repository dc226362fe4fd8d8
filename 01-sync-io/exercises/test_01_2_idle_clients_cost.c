/* Checker of exercise 01.2 (predict): what 50 idle clients cost the thread-per-client
 * server. It runs the server in this process, connects 50 clients that send nothing,
 * finds the threads the process gained, and measures each one's stack. */
#include <stdio.h>
#include <stdlib.h>

#include "prediction_01_2.h"
#include "server.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#include <tlhelp32.h> /* after windows.h, which testkit.h brings */

enum { CLIENTS = 50, MAX_THREADS = 1024 };

#define MIB (1024.0 * 1024.0)

typedef struct thread_list {
    DWORD ids[MAX_THREADS];
    int count;
} thread_list;

typedef struct stack_usage {
    ULONGLONG reserved;  /* the whole stack allocation: from its base to the stack's top */
    ULONGLONG committed; /* the part of it backed by memory now                         */
} stack_usage;

/* The ids of this process's threads, from a Toolhelp snapshot. */
static void list_own_threads(thread_list *list)
{
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    assert_true(snapshot != INVALID_HANDLE_VALUE);
    DWORD self = GetCurrentProcessId();
    THREADENTRY32 entry;
    entry.dwSize = sizeof entry;
    list->count = 0;
    for (BOOL more = Thread32First(snapshot, &entry); more;
         more = Thread32Next(snapshot, &entry)) {
        if (entry.th32OwnerProcessID == self && list->count < MAX_THREADS)
            list->ids[list->count++] = entry.th32ThreadID;
    }
    CloseHandle(snapshot);
}

static bool contains(const thread_list *list, DWORD id)
{
    for (int i = 0; i < list->count; i++) {
        if (list->ids[i] == id)
            return true;
    }
    return false;
}

/* ---- where a thread's stack is ---------------------------------------------------------
 * Every thread's environment block (TEB) begins with an NT_TIB that holds the top of its
 * stack (StackBase) and the lowest page in use (StackLimit). Windows documents NT_TIB in
 * winnt.h; the TEB's address of ANOTHER thread comes from NtQueryInformationThread, which
 * ntdll exports. */

typedef struct thread_basic_information {
    LONG exit_status;
    void *teb;
    void *client_id[2];
    ULONG_PTR affinity_mask;
    LONG priority;
    LONG base_priority;
} thread_basic_information;

typedef LONG(NTAPI *query_thread_function)(HANDLE thread, int information_class,
                                           void *information, ULONG length,
                                           ULONG *returned);

enum { THREAD_BASIC_INFORMATION_CLASS = 0 };

static const NT_TIB *thread_information_block(DWORD id)
{
    static query_thread_function query;
    if (query == NULL) {
        HMODULE ntdll = GetModuleHandleA("ntdll.dll");
        assert_non_null(ntdll);
        /* Through void (*)(void): the one cast between function types compilers accept. */
        query = (query_thread_function)(void (*)(void))GetProcAddress(
            ntdll, "NtQueryInformationThread");
        assert_non_null(query);
    }
    HANDLE thread = OpenThread(THREAD_QUERY_INFORMATION, FALSE, id);
    assert_non_null(thread);
    thread_basic_information basic;
    LONG status = query(thread, THREAD_BASIC_INFORMATION_CLASS, &basic, sizeof basic, NULL);
    CloseHandle(thread);
    assert_int_equal(status, 0);
    assert_non_null(basic.teb);
    return basic.teb; /* the thread is asleep in recv: its TEB stays where it is */
}

/* A stack is one allocation: reserved pages at the bottom, then a guard page, then the
 * committed pages in use up to StackBase. */
static stack_usage stack_of_thread(DWORD id)
{
    const NT_TIB *tib = thread_information_block(id);
    MEMORY_BASIC_INFORMATION region;
    assert_int_equal(VirtualQuery(tib->StackLimit, &region, sizeof region), sizeof region);
    const unsigned char *base = region.AllocationBase;
    const unsigned char *top = tib->StackBase;
    stack_usage usage = {(ULONGLONG)(top - base), 0};
    for (const unsigned char *at = base; at < top; at += region.RegionSize) {
        assert_int_equal(VirtualQuery(at, &region, sizeof region), sizeof region);
        if (region.State == MEM_COMMIT)
            usage.committed += region.RegionSize;
    }
    return usage;
}

/* ---- the scenario ------------------------------------------------------------------- */

static void check_the_predictions_are_answered(void)
{
    int predicted_threads = PREDICTED_NEW_THREADS, predicted_mib = PREDICTED_STACK_RESERVED_MIB;
    if (predicted_threads == -1 || predicted_mib == -1)
        fail_msg("expected your two predictions in 01-sync-io/exercises/prediction_01_2.h; "
                 "PREDICTED_NEW_THREADS is %d and PREDICTED_STACK_RESERVED_MIB is %d "
                 "(-1: not answered yet). Predict first, then check.",
                 predicted_threads, predicted_mib);
}

static void fifty_idle_clients_cost_what_you_predicted(void **state)
{
    (void)state;
    check_the_predictions_are_answered();

    server_config config = {0};
    server *srv = server_start(&config);
    assert_non_null(srv);
    static thread_list before, after;
    list_own_threads(&before);

    SOCKET clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = net_connect_loopback(server_port(srv));
        assert_true(clients[i] != INVALID_SOCKET);
    }
    assert_true(server_wait_for_threads(srv, CLIENTS + 1, TK_PROMPT_MS)); /* + the acceptor */
    list_own_threads(&after);

    int new_threads = 0;
    stack_usage stacks = {0, 0};
    ULONGLONG one_stack = 0;
    for (int i = 0; i < after.count; i++) {
        if (contains(&before, after.ids[i]))
            continue;
        stack_usage stack = stack_of_thread(after.ids[i]);
        stacks.reserved += stack.reserved;
        stacks.committed += stack.committed;
        one_stack = stack.reserved;
        new_threads++;
    }
    int reserved_mib = (int)((double)stacks.reserved / MIB + 0.5);
    print_message("measured: %d new threads; their stacks reserve %d MiB (%.2f MiB each) "
                  "and have %.1f MiB committed\n",
                  new_threads, reserved_mib, (double)one_stack / MIB,
                  (double)stacks.committed / MIB);

    for (int i = 0; i < CLIENTS; i++)
        closesocket(clients[i]);
    server_stop(srv, NULL);

    bool threads_right = PREDICTED_NEW_THREADS == new_threads;
    bool stacks_right = PREDICTED_STACK_RESERVED_MIB == reserved_mib;
    if (!threads_right)
        print_error("expected %d new threads (measured); you predicted %d. Each client gets "
                    "a thread of its own the moment it connects, and keeps it while it sends "
                    "nothing: the thread waits in recv. (The acceptor was there before.)\n",
                    new_threads, PREDICTED_NEW_THREADS);
    if (!stacks_right)
        print_error("expected %d MiB of stack reserved (measured: %.2f MiB for each of the %d "
                    "threads); you predicted %d MiB. CreateThread with a stack size of 0 "
                    "reserves the size written in the program's header (mingw-w64's linker "
                    "writes 2 MiB, Microsoft's 1 MiB), however little of it an idle thread "
                    "touches\n",
                    reserved_mib, (double)one_stack / MIB, new_threads,
                    PREDICTED_STACK_RESERVED_MIB);
    if (!threads_right || !stacks_right)
        fail_msg("expected both predictions to match what was measured");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifty_idle_clients_cost_what_you_predicted),
    };
    return cmocka_run_group_tests_name("exercise 01.2", tests, tk_winsock_up, tk_winsock_down);
}
