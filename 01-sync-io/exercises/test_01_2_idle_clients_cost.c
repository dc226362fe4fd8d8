/* Checker of exercise 01.2 (predict): what idle clients cost the thread-per-client server.
 * It runs the server in this process, connects idle clients (two different numbers of
 * them, chosen at random each run), finds the threads the process gained, and measures
 * each one's stack. Your predictions are formulas (prediction_01_2.txt, read, never
 * compiled): the checker evaluates them for each number of clients and for the stack size
 * in this program's own header, which differs between mingw-w64's linker and Microsoft's,
 * and then for the other linker's size and sizes drawn at random, against the rule the
 * measurements confirmed. */
#include <stdio.h>
#include <stdlib.h>

#include "server.h"
#include "tutorial/checkkit.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)

/* Predictions of reserved address space count as right within 5 % (the system rounds a
 * stack up to its allocation granularity, 64 KiB). */
enum { TOLERANCE_PERCENT = 5 };

typedef struct stack_usage {
    ULONGLONG reserved;  /* the whole stack allocation: from its base to the stack's top */
    ULONGLONG committed; /* the part of it backed by memory now                         */
} stack_usage;

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

/* The stack size the linker wrote into this program's header (IMAGE_OPTIONAL_HEADER's
 * SizeOfStackReserve): what CreateThread reserves when it is asked for a stack size of 0. */
static ULONGLONG header_stack_reserve(void)
{
    const unsigned char *base = (const unsigned char *)GetModuleHandleW(NULL);
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    return nt->OptionalHeader.SizeOfStackReserve;
}

typedef struct measurement {
    int clients;
    int new_threads;
    stack_usage stacks; /* of the new threads, together */
} measurement;

/* Connects `clients` idle clients, measures the threads the process gained and their
 * stacks, and lets the clients go again. */
static measurement measure_idle_clients(server *srv, int clients)
{
    static SOCKET sockets[64];
    static ck_threads before, born;
    assert_true(clients <= 64);
    measurement m = {clients, 0, {0, 0}};
    ck_list_threads(&before);
    for (int i = 0; i < clients; i++) {
        sockets[i] = net_connect_loopback(server_port(srv));
        assert_true(sockets[i] != INVALID_SOCKET);
    }
    assert_true(server_wait_for_threads(srv, clients + 1, TK_PROMPT_MS)); /* + the acceptor */
    ck_threads_born_since(&before, &born);
    for (int i = 0; i < born.count; i++) {
        stack_usage stack = stack_of_thread(born.ids[i]);
        m.stacks.reserved += stack.reserved;
        m.stacks.committed += stack.committed;
    }
    m.new_threads = born.count;
    for (int i = 0; i < clients; i++)
        closesocket(sockets[i]);
    assert_true(server_wait_for_threads(srv, 1, TK_PROMPT_MS)); /* their threads have ended */
    return m;
}

static bool within_tolerance(double predicted, double measured)
{
    double difference = predicted > measured ? predicted - measured : measured - predicted;
    return difference * 100.0 <= measured * TOLERANCE_PERCENT;
}

/* ---- the prediction (prediction_01_2.txt) ------------------------------------------- */

static const char *const clients_only[] = {"clients", NULL};
static const char *const clients_and_header[] = {"clients", "header_stack_kib", NULL};

static void read_the_prediction(prediction *p)
{
    static const prediction_spec answers[] = {
        {"new_threads", clients_only},
        {"stack_reserved_kib", clients_and_header},
    };
    ck_read_prediction("prediction_01_2.txt", "01-sync-io/exercises/prediction_01_2.txt",
                       answers, 2, p);
}

static long new_threads(const prediction *p, long clients)
{
    long long inputs[1] = {clients};
    return (long)ck_predicted(p, "new_threads", inputs);
}

static long stack_reserved_kib(const prediction *p, long clients, long header_kib)
{
    long long inputs[2] = {clients, header_kib};
    return (long)ck_predicted(p, "stack_reserved_kib", inputs);
}

/* Once the measurements have confirmed that every idle client costs one thread, and each
 * thread reserves the header's whole stack size: the formula for the reserve must hold for
 * the other linker's header too (1024 KiB from Microsoft's, 2048 from mingw-w64's), and for
 * sizes drawn at random, not only for this program's own. */
static void holds_for_other_headers(const prediction *p)
{
    long headers[5] = {1024, 2048, 64L * ck_random(1, 64), 64L * ck_random(1, 64),
                       64L * ck_random(1, 64)};
    for (int i = 0; i < 5; i++) {
        long clients = ck_random(1, 100);
        long predicted = stack_reserved_kib(p, clients, headers[i]);
        static const char *const whose[] = {"Microsoft's linker", "mingw-w64's linker"};
        if (!within_tolerance((double)predicted, (double)(clients * headers[i])))
            fail_msg("expected your stack formula to hold for any header: with %ld clients "
                     "and a header of %ld KiB (%s), the threads reserve %ld KiB, one whole "
                     "stack each, as measured here; your formula gives %ld",
                     clients, headers[i], i < 2 ? whose[i] : "a size drawn at random",
                     clients * headers[i], predicted);
    }
    print_message("measured: your stack formula also holds for headers of 1024, 2048, %ld, "
                  "%ld and %ld KiB\n", headers[2], headers[3], headers[4]);
}

static void idle_clients_cost_what_you_predicted(void **state)
{
    (void)state;
    const long header_kib = (long)(header_stack_reserve() / 1024);
    prediction p;
    read_the_prediction(&p);

    server_config config = {0};
    server *srv = server_start(&config);
    assert_non_null(srv);
    measurement rounds[2];
    rounds[0] = measure_idle_clients(srv, ck_random(3, 15));
    rounds[1] = measure_idle_clients(srv, ck_random(30, 60));
    server_stop(srv, NULL);

    bool threads_right = true, stacks_right = true;
    for (int r = 0; r < 2; r++) {
        const measurement *m = &rounds[r];
        long predicted_threads = new_threads(&p, m->clients);
        long predicted_kib = stack_reserved_kib(&p, m->clients, header_kib);
        double reserved_kib = (double)m->stacks.reserved / KIB;
        print_message("measured: %d idle clients: %d new threads (you predicted %ld); their "
                      "stacks reserve %.0f KiB (you predicted %ld KiB), %.2f MiB each, and "
                      "have %.1f MiB committed\n",
                      m->clients, m->new_threads, predicted_threads, reserved_kib,
                      predicted_kib,
                      m->new_threads > 0 ? (double)m->stacks.reserved / MIB / m->new_threads : 0.0,
                      (double)m->stacks.committed / MIB);
        threads_right = threads_right && predicted_threads == m->new_threads;
        stacks_right = stacks_right && within_tolerance((double)predicted_kib, reserved_kib);
    }
    print_message("why: every client gets a thread of its own the moment it connects "
                  "(start_client_thread), and keeps it while it sends nothing: the thread "
                  "sleeps in recv. The acceptor was there before the clients, so it is not "
                  "new. The cost grows with every idle client.\n");
    print_message("why: CreateThread with a stack size of 0 reserves, for every thread, the "
                  "stack size in the program's header (here %ld KiB), however little of it "
                  "the thread touches (its 16 KiB buffer and a few calls). Reserved is not "
                  "yet used: only committed pages cost memory. Wine commits a whole stack at "
                  "once; Windows commits only the pages a thread has touched.\n",
                  header_kib);
    if (!threads_right || !stacks_right)
        fail_msg("expected your predictions to match what was measured for both numbers of "
                 "clients: the number of new threads %s, the stacks' reserve (within %d %%) "
                 "%s",
                 threads_right ? "matches" : "does not", TOLERANCE_PERCENT,
                 stacks_right ? "matches" : "does not");
    holds_for_other_headers(&p);
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_clients_cost_what_you_predicted),
    };
    return CK_RUN_CHECKER("exercise 01.2", tests, tk_winsock_up, tk_winsock_down);
}
