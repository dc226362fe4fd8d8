#include "tutorial/faults.h"

#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>

#include <errno.h>
#include <string.h>

#include "tutorial/fault_plan.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"

#define ERROR_HANDLES_CLOSED_CODE 676 /* Wine's answer for I/O on a closed socket */

#ifndef STATUS_PENDING
#define STATUS_PENDING ((DWORD)0x00000103L)
#endif

/* Where a stand-in was called from, for the page heap's report. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define CALLER() _ReturnAddress()
#else
#define CALLER() __builtin_return_address(0)
#endif

enum {
    BUCKETS = 1024,
    MAX_BUFFERS = 4,      /* buffers of an operation the memory checks look at */
    EARLY_DEQUEUE_MS = 2000, /* how long "early" waits for a worker to take the packet */
    EARLY_HANDLE_MS = 100    /* and then for that worker to go back to the port       */
};

/* ---- the real functions (what the import table held before) -------------------------- */

typedef int(WSAAPI *wsarecv_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
                                      LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsasend_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, LPWSAOVERLAPPED,
                                      LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsaioctl_function)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD,
                                       LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef BOOL(WINAPI *gqcs_function)(HANDLE, LPDWORD, PULONG_PTR, LPOVERLAPPED *, DWORD);
typedef BOOL(WINAPI *gqcs_ex_function)(HANDLE, LPOVERLAPPED_ENTRY, ULONG, PULONG, DWORD, BOOL);
typedef BOOL(WINAPI *post_function)(HANDLE, DWORD, ULONG_PTR, LPOVERLAPPED);
typedef BOOL(WINAPI *cancel_function)(HANDLE, LPOVERLAPPED);
typedef int(WSAAPI *closesocket_function)(SOCKET);
typedef int(WSAAPI *setsockopt_function)(SOCKET, int, int, const char *, int);
typedef SOCKET(WSAAPI *wsasocket_function)(int, int, int, LPWSAPROTOCOL_INFOW, GROUP, DWORD);
typedef SOCKET(WSAAPI *accept_function)(SOCKET, struct sockaddr *, int *);
typedef HANDLE(WINAPI *port_function)(HANDLE, HANDLE, ULONG_PTR, DWORD);
typedef BOOL(WINAPI *modes_function)(HANDLE, UCHAR);
typedef void *(*malloc_function)(size_t);
typedef void *(*calloc_function)(size_t, size_t);
typedef void *(*realloc_function)(void *, size_t);

static struct {
    wsarecv_function wsarecv;
    wsasend_function wsasend;
    wsaioctl_function wsaioctl;
    tk_accept_ex_function accept_ex; /* what WSAIoctl handed out before the stand-in */
    LPFN_CONNECTEX connect_ex;       /* the same, for ConnectEx                      */
    gqcs_function gqcs;
    gqcs_ex_function gqcs_ex;
    post_function post;
    cancel_function cancel;
    closesocket_function closesocket;
    setsockopt_function setsockopt;
    wsasocket_function wsasocket;
    accept_function accept;
    port_function port;
    modes_function modes;
    malloc_function malloc;
    calloc_function calloc;
    realloc_function realloc;
} real;

/* ---- what the layer does ------------------------------------------------------------- */

static volatile LONG plan_active;     /* the plan decides (faults_install, faults_hook_imports) */
static volatile LONG resets_wanted;   /* Windows' reset semantics asked for                  */
static volatile LONG resets_answered, accepts_answered;
static faults_memory_check memory_check; /* the page heap's, or NULL */
static volatile LONG connections;     /* connections numbered so far (@M) */

static bool planning(void)
{
    return InterlockedCompareExchange(&plan_active, 0, 0) != 0;
}

bool faults_windows_resets(void)
{
    static volatile LONG wine = -1; /* not looked up yet */
    if (wine == -1)
        InterlockedExchange(&wine, net_under_wine() ? 1 : 0);
    return wine == 1 && InterlockedCompareExchange(&resets_wanted, 0, 0) != 0;
}

void faults_set_windows_resets(bool on)
{
    InterlockedExchange(&resets_wanted, on ? 1 : 0);
}

long faults_resets_answered(void)
{
    return InterlockedCompareExchange(&resets_answered, 0, 0);
}

long faults_accepts_answered(void)
{
    return InterlockedCompareExchange(&accepts_answered, 0, 0);
}

static void check_memory(const void *address, size_t length, const char *what, void *caller)
{
    if (memory_check != NULL && address != NULL)
        memory_check(address, length, what, caller);
}

/* ---- the layer's own memory: never malloc, which it stands in for --------------------- */

static void *layer_alloc(size_t size)
{
    return HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, size);
}

static void layer_free(void *block)
{
    HeapFree(GetProcessHeap(), 0, block);
}

static size_t bucket_of(uintptr_t key)
{
    return (size_t)((key >> 4) ^ (key >> 14)) % BUCKETS;
}

/* ---- sockets: their connection number and what the semantics know of them -------------- */

typedef struct socket_state {
    struct socket_state *next;
    SOCKET socket;
    long generation;          /* the plan these numbers count under                 */
    long connection;          /* 0 until its first send or receive                  */
    long receives, sends;     /* started on it so far                               */
    bool received;            /* a receive was started on it: the reset check is done */
    bool reset_after_accept;  /* Wine failed its accept: Windows' timeline instead  */
    bool skip_on_success;     /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: no packet then */
    HANDLE port;              /* the completion port it is tied to, and its key     */
    ULONG_PTR key;
} socket_state;

static socket_state *sockets[BUCKETS];
static SRWLOCK sockets_lock = SRWLOCK_INIT;
static long numbered_under; /* the plan the connection numbers count under */

/* The caller holds sockets_lock exclusive. */
static socket_state *socket_find(SOCKET s, bool create)
{
    socket_state **slot = &sockets[bucket_of((uintptr_t)s)];
    for (socket_state *st = *slot; st != NULL; st = st->next) {
        if (st->socket == s)
            return st;
    }
    if (!create)
        return NULL;
    socket_state *st = layer_alloc(sizeof *st);
    if (st != NULL) {
        st->socket = s;
        st->next = *slot;
        *slot = st;
    }
    return st;
}

/* Counts a receive or a send on s: its connection number and its number there. */
static socket_state socket_count(SOCKET s, fault_op op)
{
    socket_state copy = {0};
    AcquireSRWLockExclusive(&sockets_lock);
    socket_state *st = socket_find(s, true);
    long generation = fault_plan_generation();
    if (generation != numbered_under) { /* a new plan counts connections from 1 */
        numbered_under = generation;
        InterlockedExchange(&connections, 0);
    }
    if (st != NULL) {
        if (st->generation != generation) {
            st->generation = generation;
            st->connection = st->receives = st->sends = 0;
        }
        if (st->connection == 0)
            st->connection = InterlockedIncrement(&connections);
        if (op == FAULT_OP_RECEIVE)
            st->receives++;
        else
            st->sends++;
        copy = *st;
        if (op == FAULT_OP_RECEIVE)
            st->received = true; /* copy keeps whether this is the first */
    }
    ReleaseSRWLockExclusive(&sockets_lock);
    return copy;
}

static socket_state socket_look(SOCKET s)
{
    socket_state copy = {0};
    AcquireSRWLockShared(&sockets_lock);
    socket_state *st = socket_find(s, false);
    if (st != NULL)
        copy = *st;
    ReleaseSRWLockShared(&sockets_lock);
    return copy;
}

static void socket_update(SOCKET s, void (*change)(socket_state *, const void *), const void *with)
{
    AcquireSRWLockExclusive(&sockets_lock);
    socket_state *st = socket_find(s, true);
    if (st != NULL)
        change(st, with);
    ReleaseSRWLockExclusive(&sockets_lock);
}

static void socket_forget(SOCKET s)
{
    AcquireSRWLockExclusive(&sockets_lock);
    for (socket_state **slot = &sockets[bucket_of((uintptr_t)s)]; *slot != NULL;
         slot = &(*slot)->next) {
        if ((*slot)->socket == s) {
            socket_state *gone = *slot;
            *slot = gone->next;
            layer_free(gone);
            break;
        }
    }
    ReleaseSRWLockExclusive(&sockets_lock);
}

/* ---- operations the kernel holds: started, packet not yet dequeued -------------------- */

typedef struct operation {
    struct operation *bucket_next;
    struct operation *prev, *next; /* every operation, for faults_in_flight */
    OVERLAPPED *overlapped;
    fault_op op;                   /* FAULT_OP_ACCEPT, _RECEIVE or _SEND */
    SOCKET socket;
    long connection, on_connection;
    WSABUF buffers[MAX_BUFFERS];
    DWORD buffer_count;
    bool early;                    /* its start waits for the dequeue: it frees this */
    bool dequeued;
    DWORD dequeued_by;             /* the thread that took the packet */
    bool dequeuer_back;            /* that thread has come back to the port since */
} operation;

static operation *operation_buckets[BUCKETS];
static operation all_operations = {NULL, &all_operations, &all_operations};
static SRWLOCK operations_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE operations_changed = CONDITION_VARIABLE_INIT;
static volatile LONG early_waiting;

/* The caller holds operations_lock exclusive. */
static operation *operation_unlink(OVERLAPPED *overlapped)
{
    for (operation **slot = &operation_buckets[bucket_of((uintptr_t)overlapped)]; *slot != NULL;
         slot = &(*slot)->bucket_next) {
        if ((*slot)->overlapped == overlapped) {
            operation *found = *slot;
            *slot = found->bucket_next;
            found->prev->next = found->next;
            found->next->prev = found->prev;
            return found;
        }
    }
    return NULL;
}

/* Records an operation before its call is made: its packet may be dequeued on another
 * thread before the call returns. A record left from an earlier use of the same OVERLAPPED
 * (a packet that never came) is replaced. */
static operation *operation_add(const operation *model)
{
    operation *o = layer_alloc(sizeof *o);
    if (o == NULL)
        return NULL;
    *o = *model;
    AcquireSRWLockExclusive(&operations_lock);
    layer_free(operation_unlink(o->overlapped));
    operation **slot = &operation_buckets[bucket_of((uintptr_t)o->overlapped)];
    o->bucket_next = *slot;
    *slot = o;
    o->next = &all_operations;
    o->prev = all_operations.prev;
    all_operations.prev->next = o;
    all_operations.prev = o;
    ReleaseSRWLockExclusive(&operations_lock);
    return o;
}

static void operation_drop(OVERLAPPED *overlapped)
{
    AcquireSRWLockExclusive(&operations_lock);
    layer_free(operation_unlink(overlapped));
    ReleaseSRWLockExclusive(&operations_lock);
}

/* A packet for overlapped was dequeued: its record, copied into *taken (false when the
 * layer did not see it start). An "early" start is woken instead, and frees the record. */
static bool operation_take(OVERLAPPED *overlapped, operation *taken)
{
    bool found = false;
    AcquireSRWLockExclusive(&operations_lock);
    for (operation *o = operation_buckets[bucket_of((uintptr_t)overlapped)]; o != NULL;
         o = o->bucket_next) {
        if (o->overlapped != overlapped)
            continue;
        *taken = *o;
        found = true;
        if (o->early) {
            o->dequeued = true;
            o->dequeued_by = GetCurrentThreadId();
            WakeAllConditionVariable(&operations_changed);
        } else {
            layer_free(operation_unlink(overlapped));
        }
        break;
    }
    ReleaseSRWLockExclusive(&operations_lock);
    return found;
}

/* A thread comes to the port: an "early" start waiting for it to finish with the packet
 * it took last may go on. */
static void worker_back_at_the_port(void)
{
    if (InterlockedCompareExchange(&early_waiting, 0, 0) == 0)
        return;
    DWORD me = GetCurrentThreadId();
    AcquireSRWLockExclusive(&operations_lock);
    for (operation *o = all_operations.next; o != &all_operations; o = o->next) {
        if (o->early && o->dequeued && o->dequeued_by == me)
            o->dequeuer_back = true;
    }
    WakeAllConditionVariable(&operations_changed);
    ReleaseSRWLockExclusive(&operations_lock);
}

static bool wait_on_operations(ULONGLONG deadline)
{
    ULONGLONG now = GetTickCount64();
    if (now >= deadline)
        return false;
    SleepConditionVariableSRW(&operations_changed, &operations_lock, (DWORD)(deadline - now), 0);
    return true;
}

/* "early": returns once a worker has dequeued the packet of o and gone back to the port
 * (or has had EARLY_HANDLE_MS to handle it), each wait bounded. */
static void wait_until_dequeued(operation *o)
{
    InterlockedIncrement(&early_waiting);
    AcquireSRWLockExclusive(&operations_lock);
    ULONGLONG deadline = GetTickCount64() + EARLY_DEQUEUE_MS;
    while (!o->dequeued && wait_on_operations(deadline))
        continue;
    deadline = GetTickCount64() + EARLY_HANDLE_MS;
    while (o->dequeued && !o->dequeuer_back && wait_on_operations(deadline))
        continue;
    if (o->dequeued) {
        layer_free(operation_unlink(o->overlapped));
    } else {
        o->early = false; /* no packet yet: its dequeue frees the record */
    }
    ReleaseSRWLockExclusive(&operations_lock);
    InterlockedDecrement(&early_waiting);
}

static bool overlaps(const void *a, size_t a_length, const void *b, size_t b_length)
{
    const char *a0 = a, *b0 = b;
    return a0 < b0 + b_length && b0 < a0 + a_length;
}

bool faults_in_flight(const void *start, size_t length, bool (*is_readable)(const void *),
                      const OVERLAPPED **overlapped, const char **what)
{
    bool found = false;
    AcquireSRWLockShared(&operations_lock);
    for (operation *o = all_operations.next; o != &all_operations && !found; o = o->next) {
        bool inside = overlaps(o->overlapped, sizeof *o->overlapped, start, length);
        const char *part = inside ? "the OVERLAPPED" : NULL;
        for (DWORD i = 0; part == NULL && i < o->buffer_count; i++) {
            if (overlaps(o->buffers[i].buf, o->buffers[i].len, start, length))
                part = "the buffer";
        }
        if (part == NULL || (!inside && !is_readable(o->overlapped)))
            continue;
        if (o->overlapped->Internal == STATUS_PENDING) {
            *overlapped = o->overlapped;
            *what = part;
            found = true;
        }
    }
    ReleaseSRWLockShared(&operations_lock);
    return found;
}

/* ---- starting an operation ----------------------------------------------------------- */

/* The call a stand-in makes on the caller's behalf, with the buffers the plan allows. */
typedef int (*start_call)(const void *arguments, LPWSABUF buffers, DWORD count);

static int fail_at_once(DWORD error)
{
    WSASetLastError((int)error);
    return SOCKET_ERROR;
}

static bool operation_tracked(const socket_state *st, LPWSAOVERLAPPED overlapped,
                              LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    /* A packet comes only for a socket tied to a port, with no completion routine, and an
     * OVERLAPPED whose event does not carry the low bit that keeps packets away. */
    return overlapped != NULL && routine == NULL && ((ULONG_PTR)overlapped->hEvent & 1) == 0 &&
           st->port != NULL;
}

/* At most `most` bytes of buffers: a copy in capped, whose count is returned. */
static DWORD cap_buffers(LPWSABUF buffers, DWORD count, DWORD most, WSABUF capped[MAX_BUFFERS])
{
    DWORD used = 0;
    for (DWORD i = 0; i < count && i < MAX_BUFFERS && most > 0; i++) {
        capped[used] = buffers[i];
        if (capped[used].len > most)
            capped[used].len = most;
        most -= capped[used++].len;
    }
    return used;
}

/* Every stand-in that starts an operation ends here: the plan's outcome, carried out. */
static int start_operation(fault_outcome planned, operation *model, const socket_state *st,
                           LPWSABUF buffers, DWORD count, start_call call, const void *arguments,
                           bool tracked)
{
    OVERLAPPED *overlapped = model->overlapped;
    if (planned.kind == FAULT_FAIL)
        return fail_at_once(planned.value); /* not made: no packet will come */
    if (planned.kind == FAULT_LOST) {
        /* Not made, so Windows holds nothing: the memory checks leave it alone, and no
         * packet will ever come for it. It looks held, as a pending operation does. */
        if (overlapped != NULL)
            overlapped->Internal = STATUS_PENDING;
        return fail_at_once(WSA_IO_PENDING);
    }
    fault_plan_pause(planned);
    WSABUF capped[MAX_BUFFERS];
    if (planned.kind == FAULT_SHORT && buffers != NULL) {
        count = cap_buffers(buffers, count, planned.value, capped);
        buffers = capped;
    }
    model->buffer_count = count < MAX_BUFFERS ? count : MAX_BUFFERS;
    for (DWORD i = 0; i < model->buffer_count; i++)
        model->buffers[i] = buffers[i];
    model->early = planned.kind == FAULT_EARLY;
    operation *o = tracked ? operation_add(model) : NULL;
    int answer = call(arguments, buffers, count);
    int error = answer == 0 ? 0 : WSAGetLastError();
    bool started = answer == 0 || error == WSA_IO_PENDING;
    bool packet = started && !(answer == 0 && st->skip_on_success);
    if (o != NULL && !packet) {
        operation_drop(overlapped); /* no packet will come for it */
        o = NULL;
    }
    if (started && planned.kind == FAULT_PENDING && !st->skip_on_success)
        answer = fail_at_once(WSA_IO_PENDING); /* its packet comes either way */
    if (started && planned.kind == FAULT_NOW && !st->skip_on_success)
        answer = 0;
    if (o != NULL && planned.kind == FAULT_EARLY)
        wait_until_dequeued(o);
    if (answer != 0)
        WSASetLastError(answer == SOCKET_ERROR && started ? WSA_IO_PENDING : error);
    return answer;
}

/* ---- Windows' reset semantics under Wine ------------------------------------------- */

/* The reset has arrived when the socket polls as in error: Wine 8 shows POLLERR, yet a
 * WSARecv would read 0 bytes, an orderly end, where Windows fails it at once. */
static bool wine_hides_a_reset(SOCKET s)
{
    WSAPOLLFD poll = {s, POLLRDNORM, 0};
    return WSAPoll(&poll, 1, 0) == 1 && (poll.revents & POLLERR) != 0;
}

static int answer_a_reset(void)
{
    InterlockedIncrement(&resets_answered);
    return fail_at_once(WSAECONNRESET);
}

/* A send on a socket whose accept Wine failed, before its first receive: the reset came
 * after it, so the kernel took it. Its packet comes, with every byte. */
static int take_a_send_before_the_reset(const socket_state *st, operation *model,
                                        LPWSABUF buffers, DWORD count)
{
    DWORD bytes = 0;
    for (DWORD i = 0; i < count; i++)
        bytes += buffers[i].len;
    model->overlapped->Internal = STATUS_PENDING;
    operation_add(model);
    if (st->port == NULL || !real.post(st->port, bytes, st->key, model->overlapped)) {
        operation_drop(model->overlapped);
        return answer_a_reset();
    }
    return fail_at_once(WSA_IO_PENDING);
}

/* ---- the stand-ins: starting operations ---------------------------------------------- */

typedef struct receive_arguments {
    SOCKET s;
    LPDWORD received, flags;
    LPWSAOVERLAPPED overlapped;
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
} receive_arguments;

static int call_wsarecv(const void *arguments, LPWSABUF buffers, DWORD count)
{
    const receive_arguments *a = arguments;
    return real.wsarecv(a->s, buffers, count, a->received, a->flags, a->overlapped, a->routine);
}

static void check_buffers(LPWSABUF buffers, DWORD count, LPWSAOVERLAPPED overlapped,
                          void *caller)
{
    if (memory_check == NULL)
        return;
    check_memory(overlapped, sizeof *overlapped, "the OVERLAPPED handed to Winsock", caller);
    for (DWORD i = 0; i < count; i++)
        check_memory(buffers[i].buf, buffers[i].len, "a buffer handed to Winsock", caller);
}

/* What the stand-ins of WSARecv and WSASend do first: the memory check, the call counted on
 * its connection (into *st), and the plan's outcome for it. */
static fault_outcome begin_transfer(SOCKET s, fault_op op, LPWSABUF buffers, DWORD count,
                                    LPWSAOVERLAPPED overlapped, void *caller, socket_state *st)
{
    check_buffers(buffers, count, overlapped, caller);
    *st = planning() || faults_windows_resets() ? socket_count(s, op) : socket_look(s);
    st->socket = s;
    if (!planning())
        return (fault_outcome){FAULT_REAL, 0};
    return fault_plan_take_op(op, st->connection,
                              op == FAULT_OP_RECEIVE ? st->receives : st->sends);
}

static int WSAAPI stand_in_wsarecv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received,
                                   LPDWORD flags, LPWSAOVERLAPPED overlapped,
                                   LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    socket_state st;
    fault_outcome planned =
        begin_transfer(s, FAULT_OP_RECEIVE, buffers, count, overlapped, CALLER(), &st);
    bool resets = faults_windows_resets();
    if (planned.kind == FAULT_DELAY) { /* sleep, then the call: the reset may come meanwhile */
        fault_plan_pause(planned);
        planned.kind = FAULT_REAL;
    }
    if (planned.kind != FAULT_FAIL && resets &&
        (st.reset_after_accept || (!st.received && wine_hides_a_reset(s))))
        return answer_a_reset(); /* what Windows answers */
    receive_arguments a = {s, received, flags, overlapped, routine};
    operation model = {.overlapped = overlapped, .op = FAULT_OP_RECEIVE, .socket = s,
                       .connection = st.connection, .on_connection = st.receives};
    return start_operation(planned, &model, &st, buffers, count, call_wsarecv, &a,
                           operation_tracked(&st, overlapped, routine));
}

typedef struct send_arguments {
    SOCKET s;
    LPDWORD sent;
    DWORD flags;
    LPWSAOVERLAPPED overlapped;
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
} send_arguments;

static int call_wsasend(const void *arguments, LPWSABUF buffers, DWORD count)
{
    const send_arguments *a = arguments;
    return real.wsasend(a->s, buffers, count, a->sent, a->flags, a->overlapped, a->routine);
}

static int WSAAPI stand_in_wsasend(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent,
                                   DWORD flags, LPWSAOVERLAPPED overlapped,
                                   LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    socket_state st;
    fault_outcome planned =
        begin_transfer(s, FAULT_OP_SEND, buffers, count, overlapped, CALLER(), &st);
    bool resets = faults_windows_resets();
    operation model = {.overlapped = overlapped, .op = FAULT_OP_SEND, .socket = s,
                       .connection = st.connection, .on_connection = st.sends};
    if (planned.kind != FAULT_FAIL && resets && st.reset_after_accept) {
        if (st.received || overlapped == NULL)
            return answer_a_reset();
        return take_a_send_before_the_reset(&st, &model, buffers, count);
    }
    send_arguments a = {s, sent, flags, overlapped, routine};
    return start_operation(planned, &model, &st, buffers, count, call_wsasend, &a,
                           operation_tracked(&st, overlapped, routine));
}

typedef struct accept_arguments {
    SOCKET listener, accepted;
    PVOID buffer;
    DWORD data, local, remote;
    LPDWORD received;
    LPOVERLAPPED overlapped;
} accept_arguments;

static int call_accept_ex(const void *arguments, LPWSABUF buffers, DWORD count)
{
    (void)buffers, (void)count;
    const accept_arguments *a = arguments;
    if (real.accept_ex(a->listener, a->accepted, a->buffer, a->data, a->local, a->remote,
                       a->received, a->overlapped))
        return 0;
    return SOCKET_ERROR; /* the error is the thread's */
}

static BOOL PASCAL stand_in_accept_ex(SOCKET listener, SOCKET accepted, PVOID buffer,
                                      DWORD data, DWORD local, DWORD remote, LPDWORD received,
                                      LPOVERLAPPED overlapped)
{
    WSABUF space = {data + local + remote, buffer};
    check_buffers(&space, 1, overlapped, CALLER());
    socket_state st = socket_look(listener); /* the packet comes on the listener's port */
    st.socket = listener;
    fault_outcome planned = planning() ? fault_plan_take_op(FAULT_OP_ACCEPT, 0, 0)
                                       : (fault_outcome){FAULT_REAL, 0};
    accept_arguments a = {listener, accepted, buffer, data, local, remote, received, overlapped};
    operation model = {.overlapped = overlapped, .op = FAULT_OP_ACCEPT, .socket = accepted};
    return start_operation(planned, &model, &st, &space, 1, call_accept_ex, &a,
                           operation_tracked(&st, overlapped, NULL)) == 0;
}

typedef struct connect_arguments {
    SOCKET s;
    const struct sockaddr *name;
    int length;
    PVOID data;
    DWORD data_length;
    LPDWORD sent;
    LPOVERLAPPED overlapped;
} connect_arguments;

static int call_connect_ex(const void *arguments, LPWSABUF buffers, DWORD count)
{
    (void)buffers, (void)count;
    const connect_arguments *a = arguments;
    if (real.connect_ex(a->s, a->name, a->length, a->data, a->data_length, a->sent,
                        a->overlapped))
        return 0;
    return SOCKET_ERROR; /* the error is the thread's */
}

/* ConnectEx: the plan may make it finish at once, pend, fail at once or wait first. Its
 * packet is tracked (the page heap sees its OVERLAPPED in flight) but no rule changes it. */
static BOOL PASCAL stand_in_connect_ex(SOCKET s, const struct sockaddr *name, int length,
                                       PVOID data, DWORD data_length, LPDWORD sent,
                                       LPOVERLAPPED overlapped)
{
    WSABUF space = {data != NULL ? data_length : 0, data};
    DWORD count = data != NULL ? 1 : 0;
    check_buffers(&space, count, overlapped, CALLER());
    socket_state st = socket_look(s);
    st.socket = s;
    fault_outcome planned = planning() ? fault_plan_take_op(FAULT_OP_CONNECT, 0, 0)
                                       : (fault_outcome){FAULT_REAL, 0};
    connect_arguments a = {s, name, length, data, data_length, sent, overlapped};
    operation model = {.overlapped = overlapped, .op = FAULT_OP_CONNECT, .socket = s};
    return start_operation(planned, &model, &st, &space, count, call_connect_ex, &a,
                           operation_tracked(&st, overlapped, NULL)) == 0;
}

/* If WSAIoctl just handed out the extension `id` (into out), hands out the stand-in
 * instead and keeps the real function in *real_function. */
static void replace_extension(const GUID *id, LPVOID in, DWORD in_size, LPVOID out,
                              DWORD out_size, void *stand_in, size_t size, void *real_function)
{
    if (in == NULL || in_size != sizeof *id || memcmp(in, id, sizeof *id) != 0 ||
        out == NULL || out_size < size)
        return;
    if (memcmp(out, stand_in, size) != 0)
        memcpy(real_function, out, size);
    memcpy(out, stand_in, size);
}

/* AcceptEx and ConnectEx are not imported: a program asks WSAIoctl for them. */
static int WSAAPI stand_in_wsaioctl(SOCKET s, DWORD code, LPVOID in, DWORD in_size, LPVOID out,
                                    DWORD out_size, LPDWORD returned,
                                    LPWSAOVERLAPPED overlapped,
                                    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    int result = real.wsaioctl(s, code, in, in_size, out, out_size, returned, overlapped, routine);
    if (result != 0 || code != SIO_GET_EXTENSION_FUNCTION_POINTER)
        return result;
    GUID accept_ex = WSAID_ACCEPTEX, connect_ex = WSAID_CONNECTEX;
    tk_accept_ex_function our_accept = stand_in_accept_ex;
    LPFN_CONNECTEX our_connect = stand_in_connect_ex;
    replace_extension(&accept_ex, in, in_size, out, out_size, &our_accept, sizeof our_accept,
                      &real.accept_ex);
    replace_extension(&connect_ex, in, in_size, out, out_size, &our_connect,
                      sizeof our_connect, &real.connect_ex);
    return result;
}

/* ---- the stand-ins: packets ---------------------------------------------------------- */

/* Error codes and the NTSTATUS an OVERLAPPED keeps for them (GetQueuedCompletionStatusEx's
 * entries carry the status; WSAGetOverlappedResult reads it from the OVERLAPPED). */
static const DWORD statuses[][2] = {
    {ERROR_NETNAME_DELETED, 0xC00000C9},    /* STATUS_NETWORK_NAME_DELETED     */
    {ERROR_OPERATION_ABORTED, 0xC0000120},  /* STATUS_CANCELLED                */
    {WSAECONNRESET, 0xC000020D},            /* STATUS_CONNECTION_RESET         */
    {ERROR_CONNECTION_ABORTED, 0xC0000241}, /* STATUS_CONNECTION_ABORTED       */
    {ERROR_UNEXP_NET_ERR, 0xC00000C4},      /* STATUS_UNEXPECTED_NETWORK_ERROR */
    {ERROR_HANDLES_CLOSED_CODE, 0xC0000206},/* STATUS_HANDLES_CLOSED           */
};

/* 0 for an error the table does not know. */
static DWORD status_of(DWORD error)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (statuses[i][0] == error)
            return statuses[i][1];
    }
    return 0;
}

/* ERROR_UNEXP_NET_ERR stands for a status the table does not know. */
enum { UNKNOWN_ERROR = 0x7fffffff };

static DWORD error_of_status(DWORD status)
{
    if (status == 0)
        return 0;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (statuses[i][1] == status)
            return statuses[i][0];
    }
    return UNKNOWN_ERROR;
}

static fault_op packet_op(fault_op started)
{
    return started == FAULT_OP_ACCEPT    ? FAULT_OP_ACCEPT_DONE
           : started == FAULT_OP_RECEIVE ? FAULT_OP_RECEIVE_DONE
                                         : FAULT_OP_SEND_DONE;
}

static void mark_reset_after_accept(socket_state *st, const void *unused)
{
    (void)unused;
    st->reset_after_accept = true;
}

/* One dequeued packet, as the layer hands it on: *error 0 for success. Returns true when
 * the layer changed it (the caller then writes the new status into the OVERLAPPED too, as
 * WSAGetOverlappedResult reads it from there). */
static bool packet_as_planned(OVERLAPPED *overlapped, DWORD *bytes, DWORD *error, void *caller)
{
    check_memory(overlapped, sizeof *overlapped, "the OVERLAPPED of a dequeued packet", caller);
    operation o;
    if (!operation_take(overlapped, &o))
        return false; /* not an operation the layer saw start: the program's own packet */
    bool changed = false;
    if (o.op == FAULT_OP_ACCEPT && *error == ERROR_UNEXP_NET_ERR && faults_windows_resets()) {
        /* Wine failed the accept because its client reset; Windows completes it at the
         * handshake, and the reset meets the socket's first receive. */
        InterlockedIncrement(&accepts_answered);
        socket_update(o.socket, mark_reset_after_accept, NULL);
        *error = 0;
        *bytes = 0;
        changed = true;
    }
    if (!planning() || o.op == FAULT_OP_CONNECT) /* no rule names a connect's packet */
        return changed;
    fault_outcome planned = fault_plan_take_op(packet_op(o.op), o.connection, o.on_connection);
    fault_plan_pause(planned);
    if (planned.kind == FAULT_FAIL) {
        *error = planned.value;
        *bytes = 0;
        changed = true;
    } else if (planned.kind == FAULT_EOF) {
        *error = 0;
        *bytes = 0;
        changed = true;
    }
    return changed;
}

static void rewrite_overlapped(OVERLAPPED *overlapped, DWORD bytes, DWORD error)
{
    DWORD status = error == 0 ? 0 : status_of(error);
    if (error == 0 || status != 0)
        overlapped->Internal = status;
    overlapped->InternalHigh = bytes;
}

static bool dequeue_fails(DWORD milliseconds)
{
    if (!planning())
        return false;
    fault_outcome planned = fault_plan_take_op(FAULT_OP_DEQUEUE, 0, 0);
    fault_plan_pause(planned);
    if (planned.kind != FAULT_FAIL ||
        (planned.value == WAIT_TIMEOUT && milliseconds == INFINITE)) /* cannot happen then */
        return false;
    SetLastError(planned.value);
    return true;
}

static BOOL WINAPI stand_in_gqcs(HANDLE port, LPDWORD bytes, PULONG_PTR key,
                                 LPOVERLAPPED *overlapped, DWORD milliseconds)
{
    worker_back_at_the_port();
    if (dequeue_fails(milliseconds)) {
        *overlapped = NULL;
        return FALSE;
    }
    BOOL ok = real.gqcs(port, bytes, key, overlapped, milliseconds);
    if (*overlapped == NULL)
        return ok;
    DWORD error = ok ? 0 : GetLastError();
    if (!packet_as_planned(*overlapped, bytes, &error, CALLER())) {
        SetLastError(error);
        return ok;
    }
    rewrite_overlapped(*overlapped, *bytes, error);
    if (error != 0)
        SetLastError(error);
    return error == 0;
}

static BOOL WINAPI stand_in_gqcs_ex(HANDLE port, LPOVERLAPPED_ENTRY entries, ULONG count,
                                    PULONG removed, DWORD milliseconds, BOOL alertable)
{
    worker_back_at_the_port();
    if (dequeue_fails(milliseconds)) {
        *removed = 0;
        return FALSE;
    }
    BOOL ok = real.gqcs_ex(port, entries, count, removed, milliseconds, alertable);
    for (ULONG i = 0; ok && i < *removed; i++) {
        OVERLAPPED *o = entries[i].lpOverlapped;
        DWORD bytes = entries[i].dwNumberOfBytesTransferred;
        DWORD error = error_of_status((DWORD)entries[i].Internal);
        if (o != NULL && packet_as_planned(o, &bytes, &error, CALLER())) {
            rewrite_overlapped(o, bytes, error);
            entries[i].Internal = o->Internal;
            entries[i].dwNumberOfBytesTransferred = bytes;
        }
    }
    return ok;
}

/* ---- the stand-ins: everything else -------------------------------------------------- */

/* The plan's outcome for a call with no connection: true when it fails (error set). */
static bool call_fails(fault_op op, bool winsock)
{
    if (!planning())
        return false;
    fault_outcome planned = fault_plan_take_op(op, 0, 0);
    fault_plan_pause(planned);
    if (planned.kind != FAULT_FAIL)
        return false;
    if (winsock)
        WSASetLastError((int)planned.value);
    else
        SetLastError(planned.value);
    return true;
}

static BOOL WINAPI stand_in_post(HANDLE port, DWORD bytes, ULONG_PTR key, LPOVERLAPPED overlapped)
{
    if (call_fails(FAULT_OP_POST, false))
        return FALSE;
    return real.post(port, bytes, key, overlapped);
}

static BOOL WINAPI stand_in_cancel(HANDLE handle, LPOVERLAPPED overlapped)
{
    if (call_fails(FAULT_OP_CANCEL, false))
        return FALSE; /* not made: what was pending stays pending */
    return real.cancel(handle, overlapped);
}

static int WSAAPI stand_in_closesocket(SOCKET s)
{
    if (planning())
        fault_plan_take_op(FAULT_OP_CLOSE, 0, 0); /* counted */
    socket_forget(s);
    return real.closesocket(s);
}

static int WSAAPI stand_in_setsockopt(SOCKET s, int level, int name, const char *value,
                                      int length)
{
    if (level == SOL_SOCKET && name == SO_UPDATE_ACCEPT_CONTEXT) {
        if (call_fails(FAULT_OP_UPDATE_CONTEXT, true))
            return SOCKET_ERROR;
        if (faults_windows_resets() && socket_look(s).reset_after_accept)
            return 0; /* Windows accepted it: the update works */
    }
    return real.setsockopt(s, level, name, value, length);
}

static SOCKET WSAAPI stand_in_wsasocket(int family, int type, int protocol,
                                        LPWSAPROTOCOL_INFOW info, GROUP group, DWORD flags)
{
    if (call_fails(FAULT_OP_SOCKET, true))
        return INVALID_SOCKET;
    return real.wsasocket(family, type, protocol, info, group, flags);
}

/* A plain accept() (step 04): its "accept" rule may fail it, as AcceptEx's; the client
 * then stays in the backlog. */
static SOCKET WSAAPI stand_in_accept(SOCKET listener, struct sockaddr *address, int *length)
{
    if (call_fails(FAULT_OP_ACCEPT, true))
        return INVALID_SOCKET;
    return real.accept(listener, address, length);
}

typedef struct association {
    HANDLE port;
    ULONG_PTR key;
} association;

static void note_association(socket_state *st, const void *with)
{
    const association *a = with;
    st->port = a->port;
    st->key = a->key;
}

static HANDLE WINAPI stand_in_port(HANDLE handle, HANDLE existing, ULONG_PTR key, DWORD threads)
{
    bool making = handle == INVALID_HANDLE_VALUE;
    if (call_fails(making ? FAULT_OP_PORT : FAULT_OP_ATTACH, false))
        return NULL;
    HANDLE port = real.port(handle, existing, key, threads);
    if (port != NULL && !making) {
        association a = {port, key};
        socket_update((SOCKET)handle, note_association, &a);
    }
    return port;
}

static void note_skip(socket_state *st, const void *with)
{
    st->skip_on_success = (*(const UCHAR *)with & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) != 0;
}

static BOOL WINAPI stand_in_modes(HANDLE handle, UCHAR flags)
{
    BOOL ok = real.modes(handle, flags);
    if (ok)
        socket_update((SOCKET)handle, note_skip, &flags);
    return ok;
}

static bool allocation_fails(void)
{
    if (!planning())
        return false;
    fault_outcome planned = fault_plan_take_op(FAULT_OP_ALLOC, 0, 0);
    fault_plan_pause(planned);
    if (planned.kind != FAULT_FAIL)
        return false;
    errno = ENOMEM;
    return true;
}

/* The caller of the allocation this thread is making through the stand-ins, for the page
 * heap's "allocated by" (its own caller would be the stand-in). A Win32 TLS slot: mingw's
 * _Thread_local allocates its storage with malloc, which is what this stands in for. */
static DWORD caller_slot = TLS_OUT_OF_INDEXES;

void *faults_allocation_caller(void *otherwise)
{
    void *caller = caller_slot != TLS_OUT_OF_INDEXES ? TlsGetValue(caller_slot) : NULL;
    return caller != NULL ? caller : otherwise;
}

static void set_allocation_caller(void *caller)
{
    if (caller_slot != TLS_OUT_OF_INDEXES)
        TlsSetValue(caller_slot, caller);
}

static void *stand_in_malloc(size_t size)
{
    if (allocation_fails())
        return NULL;
    set_allocation_caller(CALLER());
    void *block = real.malloc(size);
    set_allocation_caller(NULL);
    return block;
}

static void *stand_in_calloc(size_t count, size_t size)
{
    if (allocation_fails())
        return NULL;
    set_allocation_caller(CALLER());
    void *block = real.calloc(count, size);
    set_allocation_caller(NULL);
    return block;
}

static void *stand_in_realloc(void *block, size_t size)
{
    if (allocation_fails())
        return NULL;
    set_allocation_caller(CALLER());
    void *moved = real.realloc(block, size);
    set_allocation_caller(NULL);
    return moved;
}

/* ---- installing ---------------------------------------------------------------------- */

#define HOOK(name, field, type, stand_in) \
    real.field = (type)tk_hook_import(name, (tk_function)(stand_in))

static BOOL CALLBACK hook_everything(PINIT_ONCE once, PVOID parameter, PVOID *context)
{
    (void)once, (void)parameter, (void)context;
    caller_slot = TlsAlloc();
    HOOK("WSARecv", wsarecv, wsarecv_function, stand_in_wsarecv);
    HOOK("WSASend", wsasend, wsasend_function, stand_in_wsasend);
    HOOK("WSAIoctl", wsaioctl, wsaioctl_function, stand_in_wsaioctl);
    HOOK("GetQueuedCompletionStatus", gqcs, gqcs_function, stand_in_gqcs);
    HOOK("GetQueuedCompletionStatusEx", gqcs_ex, gqcs_ex_function, stand_in_gqcs_ex);
    HOOK("PostQueuedCompletionStatus", post, post_function, stand_in_post);
    HOOK("CancelIoEx", cancel, cancel_function, stand_in_cancel);
    HOOK("closesocket", closesocket, closesocket_function, stand_in_closesocket);
    HOOK("setsockopt", setsockopt, setsockopt_function, stand_in_setsockopt);
    HOOK("WSASocketW", wsasocket, wsasocket_function, stand_in_wsasocket);
    HOOK("accept", accept, accept_function, stand_in_accept);
    HOOK("CreateIoCompletionPort", port, port_function, stand_in_port);
    HOOK("SetFileCompletionNotificationModes", modes, modes_function, stand_in_modes);
    HOOK("malloc", malloc, malloc_function, stand_in_malloc);
    HOOK("calloc", calloc, calloc_function, stand_in_calloc);
    HOOK("realloc", realloc, realloc_function, stand_in_realloc);
    /* The layer posts packets of its own (a send taken before a reset) even when the
     * program itself never posts one. */
    if (real.post == NULL)
        real.post = PostQueuedCompletionStatus;
    return TRUE;
}

static void install_stand_ins(void)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    InitOnceExecuteOnce(&once, hook_everything, NULL, NULL);
}

void faults_hook_imports(void)
{
    install_stand_ins();
    InterlockedExchange(&plan_active, 1);
}

void faults_watch_memory(faults_memory_check check)
{
    memory_check = check;
    install_stand_ins();
}

bool faults_install(const char *plan, bool windows_resets, char *why, size_t why_size)
{
    if (!fault_plan_set(plan, why, why_size))
        return false;
    faults_set_windows_resets(windows_resets);
    if (fault_plan_has_rules())
        faults_hook_imports();
    else if (faults_windows_resets())
        install_stand_ins(); /* the semantics alone: the plan is not consulted */
    return true;
}
