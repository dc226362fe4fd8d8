#include "support.h"

#include <stdio.h>
#include <string.h>

#include "tutorial/fault_plan.h"
#include "tutorial/faults.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"

HANDLE test_port;

int test_port_open(void **state)
{
    (void)state;
    test_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    return test_port != NULL ? 0 : -1;
}

int test_port_close(void **state)
{
    (void)state;
    set_plan(NULL);
    CloseHandle(test_port);
    return 0;
}

int test_port_and_winsock_up(void **state)
{
    faults_set_windows_resets(true); /* as the servers have them under Wine */
    return test_port_open(state) == 0 ? tk_faults_up(state) : -1;
}

void set_plan(const char *plan)
{
    char why[200] = "";
    if (!fault_plan_set(plan, why, sizeof why))
        fail_msg("not a plan: %s (%s)", plan != NULL ? plan : "(none)", why);
}

int test_port_and_winsock_down(void **state)
{
    test_port_close(state);
    return tk_winsock_down(state);
}

registry_totals totals(void)
{
    registry_totals t;
    registry_get_totals(&t);
    return t;
}

server_counters counters_of(server *srv)
{
    server_counters c;
    server_get_counters(srv, &c);
    return c;
}

typedef struct ends_wait {
    server *srv;
    long connections;
} ends_wait;

static bool connections_have_ended(void *argument)
{
    const ends_wait *w = argument;
    server_counters c = counters_of(w->srv);
    return c.resets + c.closed >= w->connections;
}

bool wait_until_ended(server *srv, long connections, DWORD timeout_ms)
{
    ends_wait w = {srv, connections};
    return tk_wait_until(connections_have_ended, &w, timeout_ms);
}

async_socket *connected_socket(SOCKET *peer, DWORD buffer_size)
{
    SOCKET mine;
    tk_socket_pair(peer, &mine);
    async_socket *s = async_socket_wrap(mine, buffer_size, 0);
    assert_non_null(s);
    assert_true(async_socket_attach(s, test_port, 0));
    return s;
}

async_socket *connected_socket_with_data(SOCKET *peer, const char *data)
{
    async_socket *s = connected_socket(peer, 4096);
    assert_true(net_send_all(*peer, data, strlen(data)));
    tk_wait_readable(s->handle, TK_PROMPT_MS);
    return s;
}

async_socket *connection_reset_by_peer(void)
{
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    net_hard_reset(peer);
    tk_wait_readable(s->handle, TK_PROMPT_MS);
    return s;
}

OVERLAPPED *next_completion(DWORD *bytes, DWORD *error)
{
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(test_port, bytes, &key, &overlapped, TK_PROMPT_MS);
    *error = ok ? 0 : GetLastError();
    if (overlapped == NULL)
        fail_msg("expected a completion packet within %d ms; none came", TK_PROMPT_MS);
    return overlapped;
}

void assert_the_aborted_completion_frees(io_context *in, registry_totals before)
{
    DWORD bytes = 0, error = 0;
    assert_ptr_equal(next_completion(&bytes, &error), &in->overlapped);
    tk_assert_error(error, ERROR_OPERATION_ABORTED);
    assert_true(context_complete(in, error)); /* the deferred free */
    registry_totals after = totals();
    assert_int_equal(after.contexts, before.contexts);
    assert_int_equal(after.sockets, before.sockets);
}

void assert_the_receive_completes_with(async_socket *s, SOCKET peer, const char *data,
                                       registry_totals before)
{
    DWORD bytes = 0, error = 0;
    assert_ptr_equal(next_completion(&bytes, &error), &s->in->overlapped);
    assert_int_equal(bytes, strlen(data));
    assert_false(context_complete(s->in, error));
    assert_memory_equal(s->in->buffer, data, strlen(data));
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts);
    closesocket(peer);
}

void read_report(char *report, size_t size)
{
    FILE *file = tmpfile();
    assert_non_null(file);
    registry_print_report(file);
    rewind(file);
    size_t length = fread(report, 1, size - 1, file);
    report[length] = '\0';
    fclose(file);
}

int operation_in_report(const char *report)
{
    int found = OP_NONE;
    for (const char *line = strstr(report, " x context op="); line != NULL;
         line = strstr(line + 1, " x context op=")) {
        const char *name = line + strlen(" x context op=");
        int operation = OP_NONE;
        for (int op = OP_ACCEPT; op <= OP_SEND; op++) {
            size_t length = strlen(operation_name((io_operation)op));
            if (strncmp(name, operation_name((io_operation)op), length) == 0 &&
                name[length] == ' ')
                operation = op;
        }
        found = (found == OP_NONE || found == operation) ? operation : -1;
    }
    return found;
}

const char *reported_operation_name(int operation)
{
    return operation < 0 ? "several operations" : operation_name((io_operation)operation);
}

void fill_until_sends_wait(SOCKET s)
{
    static char chunk[65536];
    u_long non_blocking = 1, blocking = 0;
    assert_int_equal(ioctlsocket(s, FIONBIO, &non_blocking), 0);
    while (send(s, chunk, sizeof chunk, 0) > 0)
        ;
    tk_assert_error(WSAGetLastError(), WSAEWOULDBLOCK);
    assert_int_equal(ioctlsocket(s, FIONBIO, &blocking), 0);
}

void let_the_send_complete(async_socket *s, SOCKET peer)
{
    static char sink[65536];
    assert_true(net_set_recv_timeout(peer, TK_PROMPT_MS));
    while (!HasOverlappedIoCompleted(&s->out->overlapped))
        assert_true(recv(peer, sink, sizeof sink, 0) > 0);
    DWORD bytes = 0, error = 0;
    assert_ptr_equal(next_completion(&bytes, &error), &s->out->overlapped);
    assert_int_equal(error, 0);
}

/* ---- shaped receives ------------------------------------------------------------------ */

void plan_with_receives_cut(const char *plan, DWORD at_most)
{
    char text[512];
    snprintf(text, sizeof text, "%s%s", plan != NULL ? plan : "",
             plan != NULL && plan[0] != '\0' && at_most > 0 ? "," : "");
    if (at_most > 0)
        snprintf(text + strlen(text), sizeof text - strlen(text), "receive#*=short:%lu",
                 (unsigned long)at_most);
    set_plan(text);
}

typedef int(WSAAPI *receive_function)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
                                      LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
static receive_function unshaped; /* what the import table held: the layer's stand-in */
static volatile LONG waits_for;   /* bytes the next receive waits for; 0: none */

typedef struct buffered_wait {
    SOCKET s;
    u_long bytes;
} buffered_wait;

static bool socket_holds(void *argument)
{
    const buffered_wait *w = argument;
    u_long buffered = 0;
    return ioctlsocket(w->s, FIONREAD, &buffered) != 0 || buffered >= w->bytes;
}

static int WSAAPI waiting_receive(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received,
                                  LPDWORD flags, LPWSAOVERLAPPED overlapped,
                                  LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    buffered_wait wait = {s, (u_long)InterlockedExchange(&waits_for, 0)};
    if (wait.bytes > 0)
        tk_wait_until(socket_holds, &wait, TK_PROMPT_MS);
    return unshaped(s, buffers, count, received, flags, overlapped, routine);
}

void next_receive_waits_for(DWORD bytes)
{
    if (unshaped == NULL)
        unshaped = (receive_function)tk_hook_import("WSARecv", (tk_function)waiting_receive);
    InterlockedExchange(&waits_for, (LONG)bytes);
}

async_socket *socket_with_a_receive_in_progress(void)
{
    set_plan("receive#*=lost");
    async_socket *s = async_socket_wrap(INVALID_SOCKET, 64, 0);
    assert_non_null(s);
    assert_int_equal(async_socket_receive(s, 0, 16), 0);
    set_plan(NULL);
    return s;
}
