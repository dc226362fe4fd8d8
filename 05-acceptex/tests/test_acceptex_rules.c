/* The rules of AcceptEx that step 05's server rests on, shown on raw sockets: how to get
 * the function, when it completes (and the trap of receiving data inside it), what the
 * accepted socket needs afterwards, what closing the listening socket does to the
 * accepts still waiting, and why a close can end a client's connection with a reset. */
#include <winsock2.h> /* first: the Windows SDK's mswsock.h does not include it */
#include <mswsock.h>
#include <string.h>

#include "support.h"
#include "tutorial/net.h"

enum {
    ADDRESS_LENGTH = sizeof(struct sockaddr_in) + 16,
    NO_PACKET_MS = 500 /* how long a test waits to be sure that NO packet comes */
};

#define LISTENER_KEY ((ULONG_PTR)0x1157)
#define SENTINEL_OVERLAPPED ((OVERLAPPED *)(ULONG_PTR)0xDEADBEEF)

/* A listening socket on the loopback, associated with its own port, and the extension
 * functions looked up on it. */
typedef struct fixture {
    SOCKET listener;
    unsigned short port_number;
    HANDLE port;
    LPFN_ACCEPTEX accept_ex;
    LPFN_GETACCEPTEXSOCKADDRS get_sockaddrs;
} fixture;

/* One AcceptEx in flight: the socket made ahead, the OVERLAPPED, the output buffer. */
typedef struct pending_accept {
    SOCKET accepted;
    OVERLAPPED overlapped;
    char buffer[256 + 2 * ADDRESS_LENGTH];
} pending_accept;

typedef struct dequeued {
    BOOL ok;
    DWORD error;
    DWORD bytes;
    OVERLAPPED *overlapped;
} dequeued;

static dequeued dequeue(HANDLE port, DWORD timeout_ms)
{
    dequeued d = {FALSE, 0, 0xDEAD, SENTINEL_OVERLAPPED};
    ULONG_PTR key = 0;
    SetLastError(0);
    d.ok = GetQueuedCompletionStatus(port, &d.bytes, &key, &d.overlapped, timeout_ms);
    d.error = GetLastError();
    return d;
}

/* snippet:begin lookup_test */
/* Writes the function's address into *function (a function pointer variable). */
static void load_extension(SOCKET s, GUID id, void *function, size_t size)
{
    DWORD bytes = 0;
    assert_int_equal(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id,
                              function, (DWORD)size, &bytes, NULL, NULL), 0);
    assert_int_equal(bytes, size);
}
/* snippet:end lookup_test */

static fixture set_up(void)
{
    fixture f;
    f.listener = listen_on_new_port(&f.port_number, &f.port, LISTENER_KEY);
    GUID accept_ex = WSAID_ACCEPTEX, get_sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
    load_extension(f.listener, accept_ex, &f.accept_ex, sizeof f.accept_ex);
    load_extension(f.listener, get_sockaddrs, &f.get_sockaddrs, sizeof f.get_sockaddrs);
    return f;
}

static void tear_down(fixture *f)
{
    if (f->listener != INVALID_SOCKET)
        closesocket(f->listener);
    CloseHandle(f->port);
}

/* Posts AcceptEx and expects it to be pending (nobody has connected yet). */
static void start_accept(fixture *f, pending_accept *a, DWORD receive_length)
{
    memset(a, 0, sizeof *a);
    a->accepted = new_overlapped_socket();
    DWORD bytes = 0;
    BOOL done = f->accept_ex(f->listener, a->accepted, a->buffer, receive_length,
                             ADDRESS_LENGTH, ADDRESS_LENGTH, &bytes, &a->overlapped);
    assert_false(done);
    tk_assert_error(WSAGetLastError(), ERROR_IO_PENDING);
}

static SOCKET connect_client(fixture *f)
{
    SOCKET client = net_connect_loopback(f->port_number);
    assert_true(client != INVALID_SOCKET);
    return client;
}

/* A client connected and accepted by an AcceptEx without a receive buffer, whose packet
 * has come. */
static SOCKET accept_a_client(fixture *f, pending_accept *a)
{
    start_accept(f, a, 0);
    SOCKET client = connect_client(f);
    assert_true(dequeue(f->port, TK_PROMPT_MS).ok);
    return client;
}

static void close_all(fixture *f, SOCKET client, pending_accept *a)
{
    closesocket(client);
    closesocket(a->accepted);
    tear_down(f);
}

static unsigned short local_port_of(SOCKET s)
{
    struct sockaddr_in address;
    int length = sizeof address;
    assert_int_equal(getsockname(s, (struct sockaddr *)&address, &length), 0);
    return ntohs(address.sin_port);
}

static void the_extension_functions_come_from_wsaioctl(void **state)
{
    (void)state;
    fixture f = set_up(); /* looks both up and checks the call */
    assert_non_null(f.accept_ex);
    assert_non_null(f.get_sockaddrs);
    tear_down(&f);
}

static void an_accept_without_a_receive_buffer_completes_when_a_client_connects(void **state)
{
    (void)state;
    fixture f = set_up();
    pending_accept a;
    start_accept(&f, &a, 0);
    SOCKET client = connect_client(&f); /* and says nothing */
    dequeued d = dequeue(f.port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_ptr_equal(d.overlapped, &a.overlapped);
    assert_int_equal(d.bytes, 0);
    close_all(&f, client, &a);
}

/* snippet:begin probe_trap_test */
static void an_accept_with_a_receive_buffer_waits_for_the_first_bytes(void **state)
{
    (void)state;
    fixture f = set_up();
    pending_accept a;
    start_accept(&f, &a, 64); /* "accept AND read the first bytes" */
    SOCKET client = connect_client(&f);

    /* Connected, silent (a monitoring probe does exactly this): the accept stays pending,
     * and while it does, it is not waiting for anyone else. */
    tk_assert_no_completion(f.port, NO_PACKET_MS);

    assert_true(net_send_all(client, "hello", 5));
    dequeued d = dequeue(f.port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_ptr_equal(d.overlapped, &a.overlapped);
    assert_int_equal(d.bytes, 5); /* the bytes received, in front of the addresses */
    assert_memory_equal(a.buffer, "hello", 5);
    close_all(&f, client, &a);
}
/* snippet:end probe_trap_test */

static void the_addresses_come_from_get_accept_ex_sockaddrs(void **state)
{
    (void)state;
    fixture f = set_up();
    pending_accept a;
    SOCKET client = accept_a_client(&f, &a);

    struct sockaddr *local = NULL, *remote = NULL;
    int local_length = 0, remote_length = 0;
    f.get_sockaddrs(a.buffer, 0, ADDRESS_LENGTH, ADDRESS_LENGTH, &local, &local_length,
                    &remote, &remote_length);
    assert_int_equal(remote->sa_family, AF_INET);
    assert_int_equal(local->sa_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)remote)->sin_port), local_port_of(client));
    assert_int_equal(ntohs(((struct sockaddr_in *)local)->sin_port), f.port_number);
    close_all(&f, client, &a);
}

/* Microsoft's AcceptEx page: until SO_UPDATE_ACCEPT_CONTEXT is set, getpeername,
 * getsockname, shutdown and others fail on the accepted socket (WSAENOTCONN). Wine 8 does
 * not enforce this; the test reports what it saw before the update and asserts after. */
static void so_update_accept_context_gives_the_socket_its_peer(void **state)
{
    (void)state;
    fixture f = set_up();
    pending_accept a;
    SOCKET client = accept_a_client(&f, &a);

    struct sockaddr_in peer;
    int length = sizeof peer;
    int before = getpeername(a.accepted, (struct sockaddr *)&peer, &length);
    int error = before == 0 ? 0 : WSAGetLastError();
    print_message("getpeername before SO_UPDATE_ACCEPT_CONTEXT: %d (error %d)\n", before,
                  error);
    if (before != 0)
        tk_assert_error(error, WSAENOTCONN);

    assert_int_equal(setsockopt(a.accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                                (const char *)&f.listener, sizeof f.listener), 0);
    length = sizeof peer;
    assert_int_equal(getpeername(a.accepted, (struct sockaddr *)&peer, &length), 0);
    assert_int_equal(ntohs(peer.sin_port), local_port_of(client));
    assert_int_equal(shutdown(a.accepted, SD_SEND), 0);
    char byte;
    assert_int_equal(recv(client, &byte, 1, 0), 0); /* the client sees the end */
    close_all(&f, client, &a);
}

static void a_client_already_waiting_is_taken_by_the_next_accept(void **state)
{
    (void)state;
    fixture f = set_up();
    SOCKET client = connect_client(&f); /* in the backlog before any AcceptEx */
    pending_accept a;
    memset(&a, 0, sizeof a);
    a.accepted = new_overlapped_socket();
    DWORD bytes = 0;
    BOOL done = f.accept_ex(f.listener, a.accepted, a.buffer, 0, ADDRESS_LENGTH,
                            ADDRESS_LENGTH, &bytes, &a.overlapped);
    int error = done ? 0 : WSAGetLastError();
    print_message("AcceptEx with a client waiting returned %d (error %d)\n", done, error);
    if (!done)
        tk_assert_error(error, ERROR_IO_PENDING);
    /* Done at once or pending, the packet comes either way. */
    dequeued d = dequeue(f.port, TK_PROMPT_MS);
    assert_true(d.ok);
    assert_ptr_equal(d.overlapped, &a.overlapped);
    tk_assert_no_completion(f.port, NO_PACKET_MS);
    close_all(&f, client, &a);
}

/* snippet:begin bool_test */
static void an_immediate_failure_of_accept_ex_is_false_not_socket_error(void **state)
{
    (void)state;
    fixture f = set_up();
    SOCKET gone = new_overlapped_socket();
    closesocket(gone); /* not a socket any more */
    OVERLAPPED overlapped = {0};
    char buffer[2 * ADDRESS_LENGTH];
    DWORD bytes = 0;
    BOOL result = f.accept_ex(f.listener, gone, buffer, 0, ADDRESS_LENGTH, ADDRESS_LENGTH,
                              &bytes, &overlapped);
    int error = WSAGetLastError();
    assert_int_equal(result, FALSE);
    assert_true(result != SOCKET_ERROR); /* a check against SOCKET_ERROR never sees this */
    assert_int_not_equal(error, ERROR_IO_PENDING);
    tk_assert_no_completion(f.port, NO_PACKET_MS); /* failed at once: nothing will complete */
    print_message("AcceptEx with a closed accept socket failed with %d\n", error);
    tear_down(&f);
}
/* snippet:end bool_test */

static void closing_the_listener_aborts_every_pending_accept(void **state)
{
    (void)state;
    enum { accepts = 3 };
    fixture f = set_up();
    pending_accept a[accepts];
    for (int i = 0; i < accepts; i++)
        start_accept(&f, &a[i], 0);

    closesocket(f.listener);
    f.listener = INVALID_SOCKET;
    bool seen[accepts] = {false};
    for (int n = 0; n < accepts; n++) {
        dequeued d = dequeue(f.port, TK_PROMPT_MS);
        assert_false(d.ok);
        if (n == 0)
            print_message("closing the listener ended AcceptEx with error %lu\n",
                          (unsigned long)d.error);
        /* The same on Wine 8 (measured) as on Windows. A pending WSARecv ended by
         * closesocket gets ERROR_HANDLES_CLOSED under Wine 8 instead (see step 04). */
        tk_assert_error(d.error, ERROR_OPERATION_ABORTED);
        int which = -1;
        for (int i = 0; i < accepts; i++) {
            if (d.overlapped == &a[i].overlapped)
                which = i;
        }
        assert_true(which >= 0 && !seen[which]); /* each accept completes exactly once */
        seen[which] = true;
    }
    tk_assert_no_completion(f.port, NO_PACKET_MS);
    for (int i = 0; i < accepts; i++)
        closesocket(a[i].accepted);
    tear_down(&f);
}

/* How a connection s was ended by its peer: true for a reset, false for an orderly end.
 * Windows says so in the receive (it fails with WSAECONNRESET). Wine 8's receive reads 0
 * bytes after a reset too, but its WSAPoll reports POLLERR for a reset and only POLLHUP
 * for an orderly end (measured). */
static bool ended_by_a_reset(SOCKET s)
{
    tk_wait_readable(s, TK_PROMPT_MS);
    if (tk_under_wine()) {
        WSAPOLLFD poll = {s, POLLRDNORM, 0};
        assert_int_equal(WSAPoll(&poll, 1, 0), 1);
        return (poll.revents & POLLERR) != 0;
    }
    char byte;
    int received = recv(s, &byte, 1, 0);
    if (received == SOCKET_ERROR)
        tk_assert_error(WSAGetLastError(), WSAECONNRESET);
    else
        assert_int_equal(received, 0); /* no bytes were sent this way */
    return received == SOCKET_ERROR;
}

/* Why a failed accept's socket can end its client's connection two ways (chapter 5's
 * replay by hand). A close that finds received bytes nobody has read resets the connection
 * instead of ending it in order: RFC 1122, section 4.2.2.13, says a TCP "SHOULD send a
 * RST" then, and Windows' and Linux's TCP (so Wine's) do. */
static void closing_a_socket_with_unread_bytes_resets_the_connection(void **state)
{
    (void)state;
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    assert_int_equal(send(client, "unread", 6, 0), 6);
    tk_wait_readable(server, TK_PROMPT_MS); /* the bytes are there, and stay unread */
    closesocket(server);
    assert_true(ended_by_a_reset(client));
    closesocket(client);

    tk_socket_pair(&client, &server); /* the same close with nothing unread: an orderly end */
    closesocket(server);
    assert_false(ended_by_a_reset(client));
    closesocket(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_extension_functions_come_from_wsaioctl),
        cmocka_unit_test(an_accept_without_a_receive_buffer_completes_when_a_client_connects),
        cmocka_unit_test(an_accept_with_a_receive_buffer_waits_for_the_first_bytes),
        cmocka_unit_test(the_addresses_come_from_get_accept_ex_sockaddrs),
        cmocka_unit_test(so_update_accept_context_gives_the_socket_its_peer),
        cmocka_unit_test(a_client_already_waiting_is_taken_by_the_next_accept),
        cmocka_unit_test(an_immediate_failure_of_accept_ex_is_false_not_socket_error),
        cmocka_unit_test(closing_the_listener_aborts_every_pending_accept),
        cmocka_unit_test(closing_a_socket_with_unread_bytes_resets_the_connection),
    };
    return cmocka_run_group_tests_name("step05 acceptex rules", tests, tk_winsock_up,
                                       tk_winsock_down);
}
