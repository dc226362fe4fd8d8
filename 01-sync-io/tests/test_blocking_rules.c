/* What Windows does to a thread that makes a blocking call: the rules step 01 rests on,
 * shown on real loopback sockets and real threads. */
#include <string.h>

#include "process_stats.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* A thread that makes one recv() and keeps what it returned. */
typedef struct receiver {
    SOCKET s;
    int result;
    int error;
    char data[16384];
} receiver;

static DWORD WINAPI receive_once(void *argument)
{
    receiver *r = argument;
    r->result = recv(r->s, r->data, (int)sizeof r->data, 0);
    r->error = r->result == SOCKET_ERROR ? WSAGetLastError() : 0;
    return 0;
}

static HANDLE start_receiver(receiver *r, SOCKET s)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    HANDLE thread = CreateThread(NULL, 0, receive_once, r, 0, NULL);
    assert_non_null(thread);
    return thread;
}

static void assert_thread_ends(HANDLE thread)
{
    tk_assert_wait(WaitForSingleObject(thread, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(thread);
}

/* How long we watch a thread to see that it stays blocked. */
enum { STILL_BLOCKED_MS = 300 };

/* The CPU time (user + kernel) a thread has used, in 100 ns units. */
static ULONGLONG cpu_time_of(HANDLE thread)
{
    FILETIME created, exited, kernel, user;
    assert_true(GetThreadTimes(thread, &created, &exited, &kernel, &user));
    ULARGE_INTEGER k = {{kernel.dwLowDateTime, kernel.dwHighDateTime}};
    ULARGE_INTEGER u = {{user.dwLowDateTime, user.dwHighDateTime}};
    return k.QuadPart + u.QuadPart;
}

/* A thread in recv with nothing to read is asleep: it stays in the call, and it uses no
 * CPU time while it waits (less than 20 ms of it in 300 ms here). */
static void a_recv_with_nothing_to_read_blocks_its_thread_without_using_cpu(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    receiver r;
    HANDLE thread = start_receiver(&r, server);
    tk_assert_wait(WaitForSingleObject(thread, 50), WAIT_TIMEOUT); /* it is in recv */
    ULONGLONG before = cpu_time_of(thread);
    tk_assert_wait(WaitForSingleObject(thread, STILL_BLOCKED_MS), WAIT_TIMEOUT);
    assert_true(cpu_time_of(thread) - before < 20 * 10000);
    assert_true(net_send_all(client, "x", 1)); /* now there is something: it wakes */
    assert_thread_ends(thread);
    assert_int_equal(r.result, 1);
    closesocket(client);
    closesocket(server);
}

/* recv returns what has arrived, as soon as anything has: not a full buffer. An echo
 * server sends back each piece as it comes. */
static void a_recv_returns_as_soon_as_some_bytes_arrive(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    receiver r;
    HANDLE thread = start_receiver(&r, server);
    assert_true(net_send_all(client, "hello", 5));
    assert_thread_ends(thread);
    assert_int_equal(r.result, 5); /* of the 16384 it asked for */
    assert_memory_equal(r.data, "hello", 5);
    closesocket(client);
    closesocket(server);
}

/* The client's shutdown(SD_SEND) sends a FIN: the blocked recv returns 0, "no more
 * bytes will come". That is the echo loop's normal end. */
static void a_blocked_recv_returns_0_when_the_peer_closes_its_side(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    receiver r;
    HANDLE thread = start_receiver(&r, server);
    assert_int_equal(shutdown(client, SD_SEND), 0);
    assert_thread_ends(thread);
    assert_int_equal(r.result, 0);
    closesocket(client);
    closesocket(server);
}

/* The Winsock 2 specification: closing a socket in one thread fails a blocking call on
 * it in another. Windows reports WSAEINTR; Wine 8 reports WSAEINVAL (measured). Either
 * way the thread wakes: this is how a server stops a thread blocked in recv. */
static void closing_the_socket_wakes_a_recv_blocked_in_another_thread(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    receiver r;
    HANDLE thread = start_receiver(&r, server);
    tk_assert_wait(WaitForSingleObject(thread, STILL_BLOCKED_MS), WAIT_TIMEOUT);
    closesocket(server);
    assert_thread_ends(thread);
    assert_int_equal(r.result, SOCKET_ERROR);
    assert_true(r.error == WSAEINTR || r.error == WSAEINVAL);
    closesocket(client);
}

/* ---- what a thread costs ------------------------------------------------------------ */

static DWORD WINAPI wait_for_event(void *argument)
{
    WaitForSingleObject((HANDLE)argument, INFINITE);
    return 0;
}

/* The stack size a thread gets when CreateThread is passed 0: the program's header. */
static ULONGLONG stack_reserve_of_this_program(void)
{
    const unsigned char *image = (const unsigned char *)GetModuleHandleA(NULL);
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)image;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(image + dos->e_lfanew);
    return nt->OptionalHeader.SizeOfStackReserve;
}

/* Every thread reserves its whole stack in the process's address space up front (and
 * commits pages as the stack grows): ten idle threads, ten stacks. */
static void every_thread_reserves_a_whole_stack_of_address_space(void **state)
{
    (void)state;
    enum { count = 10 };
    HANDLE go = CreateEventA(NULL, TRUE, FALSE, NULL);
    assert_non_null(go);
    process_stats before = process_stats_now();
    HANDLE threads[count];
    for (int i = 0; i < count; i++) {
        threads[i] = CreateThread(NULL, 0, wait_for_event, go, 0, NULL);
        assert_non_null(threads[i]);
    }
    process_stats during = process_stats_now();
    assert_int_equal(during.threads, before.threads + count);
    ULONGLONG stack = stack_reserve_of_this_program();
    assert_true(stack >= 64 * 1024);
    assert_true(during.reserved - before.reserved >= count * stack);

    SetEvent(go);
    tk_assert_wait(WaitForMultipleObjects(count, threads, TRUE, TK_PROMPT_MS), WAIT_OBJECT_0);
    for (int i = 0; i < count; i++)
        CloseHandle(threads[i]);
    CloseHandle(go);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_recv_with_nothing_to_read_blocks_its_thread_without_using_cpu),
        cmocka_unit_test(a_recv_returns_as_soon_as_some_bytes_arrive),
        cmocka_unit_test(a_blocked_recv_returns_0_when_the_peer_closes_its_side),
        cmocka_unit_test(closing_the_socket_wakes_a_recv_blocked_in_another_thread),
        cmocka_unit_test(every_thread_reserves_a_whole_stack_of_address_space),
    };
    return cmocka_run_group_tests_name("step01 blocking rules", tests, tk_winsock_up,
                                       tk_winsock_down);
}
