/* Checker of exercise 04.2 (predict): two receives are pending on a socket; the first
 * finishes and its packet waits on the port; then the socket is cancelled and closed. What
 * does the port deliver for it? The checker runs the scenario for real, several times with
 * a different byte count each time (drawn from the run's seed), compares what it measured
 * with prediction_04_2.txt, and says what it measured and why, right or wrong. */
#include <stdio.h>
#include <string.h>

#include "tutorial/checkkit.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#define SOCKET_KEY ((ULONG_PTR)0x50C)

enum { RUNS = 3, BUFFER = 64, QUIET_MS = 500, MAX_PACKETS = 4 };

typedef struct packet {
    BOOL ok;
    DWORD bytes;
    DWORD error;
    int which; /* 1: the first receive's OVERLAPPED, 2: the second's */
} packet;

typedef struct measured {
    int count;
    packet packets[MAX_PACKETS];
} measured;

static void post_receive(SOCKET s, OVERLAPPED *overlapped, char *buffer)
{
    memset(overlapped, 0, sizeof *overlapped);
    WSABUF wsabuf = {BUFFER, buffer};
    DWORD flags = 0;
    assert_int_equal(WSARecv(s, &wsabuf, 1, NULL, &flags, overlapped, NULL), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSA_IO_PENDING);
}

static measured run_scenario(int n)
{
    SOCKET client, server;
    tk_socket_pair(&client, &server);
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(port);
    assert_true(CreateIoCompletionPort((HANDLE)server, port, SOCKET_KEY, 0) == port);

    static char first_buffer[BUFFER], second_buffer[BUFFER];
    OVERLAPPED first, second;
    post_receive(server, &first, first_buffer);
    post_receive(server, &second, second_buffer);

    char data[32];
    memset(data, 'x', sizeof data);
    assert_true(net_send_all(client, data, n));
    if (!tk_wait_until_completed(&first, TK_PROMPT_MS))
        fail_msg("expected the first receive to finish within %d ms of the client's send; "
                 "it was still pending", TK_PROMPT_MS);

    /* Its packet is on the port, not dequeued. Now cancel and close, as a server that
     * stops a connection does. */
    CancelIoEx((HANDLE)server, NULL);
    closesocket(server);

    measured m;
    memset(&m, 0, sizeof m);
    for (;;) {
        ULONG_PTR key = 0;
        OVERLAPPED *got = NULL;
        packet p = {FALSE, 0, 0, 0};
        SetLastError(0);
        p.ok = GetQueuedCompletionStatus(port, &p.bytes, &key, &got, QUIET_MS);
        p.error = p.ok ? 0 : GetLastError();
        if (got == NULL)
            break;
        p.which = got == &first ? 1 : got == &second ? 2 : 0;
        if (m.count < MAX_PACKETS)
            m.packets[m.count++] = p;
    }
    closesocket(client);
    CloseHandle(port);
    return m;
}

/* The packet of receive `which` (1 or 2), or NULL. */
static const packet *find(const measured *m, int which)
{
    for (int i = 0; i < m->count; i++)
        if (m->packets[i].which == which)
            return &m->packets[i];
    return NULL;
}

static void print_packet(int n, const packet *p)
{
    char name[40];
    print_message("measured: n = %d: the %s receive's packet: %s, %lu bytes, error %s (%lu)\n",
                  n, p->which == 1 ? "first" : p->which == 2 ? "second" : "other",
                  p->ok ? "TRUE" : "FALSE", (unsigned long)p->bytes,
                  error_name(p->error, name, sizeof name), (unsigned long)p->error);
}

static void explain(void)
{
    print_message("why: the first receive had finished before CancelIoEx ran, and CancelIoEx "
                  "cancels only operations still outstanding (Microsoft's CancelIoEx page); "
                  "closesocket does not reach into the port's queue either. So its packet "
                  "stays what it was: TRUE with the n bytes.\n");
    print_message("why: the second receive was still pending: CancelIoEx ended it, and it "
                  "completed with ERROR_OPERATION_ABORTED (995) and 0 bytes; the close that "
                  "followed found nothing left to end.\n");
    print_message("why: every operation that started gets exactly one packet, cancelled or "
                  "not: two receives, two packets. A server frees a context only when its "
                  "packet has come, and must not assume that packet says \"aborted\".\n");
}

/* The names second_error may use, and their values (winerror.h, winsock2.h). */
static const char *const error_names[] = {
    "ERROR_OPERATION_ABORTED", "ERROR_NETNAME_DELETED", "ERROR_CONNECTION_ABORTED",
    "WSAECONNRESET", "WSAECONNABORTED", "WSAENOTSOCK", NULL};
static const long long error_values[] = {ERROR_OPERATION_ABORTED, ERROR_NETNAME_DELETED,
                                         ERROR_CONNECTION_ABORTED, WSAECONNRESET,
                                         WSAECONNABORTED, WSAENOTSOCK};
static const char *const n_only[] = {"n", NULL};
static const prediction_spec answers[] = {
    {"packets", NULL},        {"first_returns", NULL}, {"first_bytes", n_only},
    {"second_returns", NULL}, {"second_error", error_names}, {"second_bytes", NULL},
};

static void the_prediction_matches_what_the_port_delivers(void **state)
{
    (void)state;
    prediction p;
    ck_read_prediction("prediction_04_2.txt", "04-iocp-basic/exercises/prediction_04_2.txt",
                       answers, (int)(sizeof answers / sizeof answers[0]), &p);
    long packets = (long)ck_predicted(&p, "packets", NULL);
    long first_returns = (long)ck_predicted(&p, "first_returns", NULL);
    long second_returns = (long)ck_predicted(&p, "second_returns", NULL);
    long second_error = (long)ck_predicted(&p, "second_error", error_values);
    long second_bytes = (long)ck_predicted(&p, "second_bytes", NULL);
    if (first_returns < 0 || first_returns > 1 ||
        (packets >= 2 && (second_returns < 0 || second_returns > 1)))
        fail_msg("expected first_returns and second_returns to be 1 (TRUE) or 0 (FALSE)");

    int wrong = 0, sizes[RUNS];
    for (int run = 0; run < RUNS; run++) {
        int n;
        bool seen;
        do { /* a different n each run: no one constant fits them all */
            n = ck_random(1, 32);
            seen = false;
            for (int i = 0; i < run; i++)
                seen = seen || sizes[i] == n;
        } while (seen);
        sizes[run] = n;
        measured m = run_scenario(n);
        for (int i = 0; i < m.count; i++)
            print_packet(n, &m.packets[i]);
        if (m.count != packets) {
            print_message("measured: n = %d: %d packets; you predicted %ld\n", n, m.count,
                          packets);
            wrong++;
            continue;
        }
        const packet *first = find(&m, 1), *second = find(&m, 2);
        long long n_value = n;
        long first_bytes = (long)ck_predicted(&p, "first_bytes", &n_value);
        if (first != NULL && ((first->ok ? 1 : 0) != first_returns ||
                              (long)first->bytes != first_bytes)) {
            print_message("measured: n = %d: the first packet differs from your prediction "
                          "(%s with %ld bytes)\n",
                          n, first_returns ? "TRUE" : "FALSE", first_bytes);
            wrong++;
        }
        if (second != NULL && ((second->ok ? 1 : 0) != second_returns ||
                               (long)second->error != second_error ||
                               (long)second->bytes != second_bytes)) {
            print_message("measured: n = %d: the second packet differs from your prediction "
                          "(%s, error %ld, %ld bytes)\n",
                          n, second_returns ? "TRUE" : "FALSE", second_error, second_bytes);
            wrong++;
        }
    }
    explain();
    if (wrong > 0)
        fail_msg("expected your prediction to match what the port delivered in all %d runs; "
                 "%d parts differed (the measured: lines above)",
                 RUNS, wrong);
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_prediction_matches_what_the_port_delivers),
    };
    return CK_RUN_CHECKER("exercise 04.2", tests, tk_winsock_up, tk_winsock_down);
}
