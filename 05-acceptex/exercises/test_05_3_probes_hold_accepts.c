/* Checker of exercise 05.3 (predict): the trap of receiving inside AcceptEx. A listener has
 * `accepts` AcceptEx calls waiting, each with a receive buffer; `probes` silent probes
 * connect first, then `clients` clients that each send a line. How many clients are
 * accepted while the probes sit, how many accepts do the probes hold, how many clients wait
 * in the backlog? The checker runs it for real on loopback, with numbers drawn from the
 * run's seed, and measures it through the completion port: which accept's packet came, and
 * whose line it carried. It compares that with prediction_05_3.txt (read, never compiled)
 * and says what it measured and why, right or wrong.
 *
 * The measurement rests on who each packet belongs to, not on when it came: each connection
 * sends a line of its own ("probe 3", "client 7"), and each accept has its own OVERLAPPED.
 * The quiet waits only end a phase; a packet that comes late is still counted for the
 * accept it belongs to. */
#include <winsock2.h> /* first: the Windows SDK's mswsock.h does not include it */
#include <mswsock.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tutorial/checkkit.h"
#include "tutorial/net.h"

enum {
    ADDRESS_LENGTH = sizeof(struct sockaddr_in) + 16,
    RECEIVE_LENGTH = 64, /* the trap: AcceptEx also waits for this many bytes, or fewer */
    QUIET_MS = 500,      /* a phase ends when no packet has come for this long */
    MAX_CONNECTIONS = 24,
    MAX_ACCEPTS = 2 * MAX_CONNECTIONS,
    ROUNDS_PER_PART = 2
};

#define LISTENER_KEY ((ULONG_PTR)0x0503)

/* ---- one accept and one connection --------------------------------------------------- */

/* Whose line an accept's packet carried. */
typedef enum { NOBODY, A_PROBE, A_CLIENT } speaker;

/* One AcceptEx the checker posted: the socket made for it, its OVERLAPPED, its buffer (the
 * first bytes, then the two addresses). The kernel writes into them until its packet
 * comes, so they live in a static array, never on a stack that a round leaves. */
typedef struct accept_call {
    SOCKET accepted;
    OVERLAPPED overlapped;
    char buffer[RECEIVE_LENGTH + 2 * ADDRESS_LENGTH];
    bool first_batch; /* one of the `accepts` posted before anyone connected */
    bool completed;   /* its packet came (success or not) */
    speaker who;      /* whose line it received */
} accept_call;

typedef struct scenario {
    SOCKET listener;
    HANDLE port;
    LPFN_ACCEPTEX accept_ex;
    unsigned short port_number;
    int accept_count;
    SOCKET probes[MAX_CONNECTIONS], clients[MAX_CONNECTIONS];
    bool probe_taken[MAX_CONNECTIONS], client_taken[MAX_CONNECTIONS];
    int taken; /* connections whose line some accept has received */
} scenario;

static accept_call calls[MAX_ACCEPTS];

/* What one round measured. */
typedef struct measured {
    int clients_connected;   /* connect and send both succeeded                        */
    int accepted_clients;    /* first-batch accepts that completed with a client's line */
    int held_accepts;        /* first-batch accepts that completed with a probe's line  */
    int clients_in_backlog;  /* clients taken only by the accepts posted afterwards     */
    int done_while_silent;   /* packets that came before any probe had spoken           */
} measured;

/* The three numbers of a round: the inputs of the learner's formulas, in this order. */
typedef struct inputs {
    int accepts, probes, clients;
} inputs;

static void load_accept_ex(scenario *s)
{
    GUID id = WSAID_ACCEPTEX;
    DWORD bytes = 0;
    assert_int_equal(WSAIoctl(s->listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id,
                              &s->accept_ex, sizeof s->accept_ex, &bytes, NULL, NULL),
                     0);
}

/* Posts one AcceptEx with a receive buffer: it completes only once the connection it takes
 * has sent its first bytes. */
static void post_accept(scenario *s, bool first_batch)
{
    assert_true(s->accept_count < MAX_ACCEPTS);
    accept_call *a = &calls[s->accept_count++];
    memset(a, 0, sizeof *a);
    a->accepted = new_overlapped_socket();
    a->first_batch = first_batch;
    DWORD bytes = 0;
    if (!s->accept_ex(s->listener, a->accepted, a->buffer, RECEIVE_LENGTH, ADDRESS_LENGTH,
                      ADDRESS_LENGTH, &bytes, &a->overlapped) &&
        WSAGetLastError() != ERROR_IO_PENDING)
        fail_msg("AcceptEx failed at once with %d: the checker cannot run the scenario",
                 WSAGetLastError());
}

/* Connects and, unless line is NULL, sends it. INVALID_SOCKET when either failed. */
static SOCKET connect_and_say(scenario *s, const char *line)
{
    SOCKET c = net_connect_loopback(s->port_number);
    if (c != INVALID_SOCKET && line != NULL && !net_send_all(c, line, strlen(line))) {
        closesocket(c);
        c = INVALID_SOCKET;
    }
    return c;
}

/* Who sent the bytes an accept received: "probe N" or "client N". */
static speaker identify(scenario *s, const accept_call *a, DWORD bytes)
{
    char line[RECEIVE_LENGTH + 1];
    memcpy(line, a->buffer, bytes);
    line[bytes] = '\0';
    int n = -1;
    bool *taken = NULL;
    speaker who = NOBODY;
    if (sscanf(line, "probe %d", &n) == 1 && n >= 0 && n < MAX_CONNECTIONS) {
        taken = s->probe_taken;
        who = A_PROBE;
    } else if (sscanf(line, "client %d", &n) == 1 && n >= 0 && n < MAX_CONNECTIONS) {
        taken = s->client_taken;
        who = A_CLIENT;
    } else {
        fail_msg("an accept received \"%s\", which no connection of the checker sent", line);
    }
    if (taken[n])
        fail_msg("two accepts received \"%s\": one connection, accepted twice?", line);
    taken[n] = true;
    s->taken++;
    return who;
}

/* Takes one packet off the port within timeout_ms and records it. False when none came. */
static bool take_packet(scenario *s, DWORD timeout_ms)
{
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(s->port, &bytes, &key, &overlapped, timeout_ms);
    if (overlapped == NULL)
        return false;
    accept_call *a = CONTAINING_RECORD(overlapped, accept_call, overlapped);
    assert_true(a >= calls && a < calls + s->accept_count);
    a->completed = true;
    if (ok && bytes > 0)
        a->who = identify(s, a, bytes);
    return true;
}

/* Takes packets until none has come for QUIET_MS. How many came. */
static int take_packets_until_quiet(scenario *s)
{
    int count = 0;
    while (take_packet(s, QUIET_MS))
        count++;
    return count;
}

/* ---- one round ------------------------------------------------------------------------ */

static void start(scenario *s)
{
    memset(s, 0, sizeof *s);
    s->listener = listen_on_new_port(&s->port_number, &s->port, LISTENER_KEY);
    load_accept_ex(s);
}

/* Every connection the listener still holds gets an accept, and every accept's packet is
 * taken: the ones that find a connection complete, the rest abort when the listener
 * closes. Then every socket is closed. */
static void finish(scenario *s, const inputs *in)
{
    int connected = in->probes;
    for (int i = 0; i < in->clients; i++)
        connected += s->clients[i] != INVALID_SOCKET;
    for (int i = s->taken; i < connected; i++)
        post_accept(s, false);
    while (s->taken < connected)
        if (!take_packet(s, TK_PROMPT_MS))
            fail_msg("expected every connection to be accepted once accepts were posted for "
                     "them; %d of %d were after %d ms without a packet", s->taken, connected,
                     TK_PROMPT_MS);
    closesocket(s->listener); /* aborts the accepts that found no connection */
    for (int i = 0; i < s->accept_count; i++)
        if (!calls[i].completed && !take_packet(s, TK_PROMPT_MS))
            fail_msg("expected the accepts left waiting to end when the listener closed");
    for (int i = 0; i < s->accept_count; i++)
        closesocket(calls[i].accepted);
    for (int i = 0; i < in->probes; i++)
        closesocket(s->probes[i]);
    for (int i = 0; i < in->clients; i++)
        if (s->clients[i] != INVALID_SOCKET)
            closesocket(s->clients[i]);
    CloseHandle(s->port);
}

/* Counts what the learner predicts, once every accept's packet has come: whose line each
 * accept of the first batch received, and which clients only the later accepts took. */
static measured count(const scenario *s, int connected, int silent)
{
    measured m = {connected, 0, 0, 0, silent};
    for (int i = 0; i < s->accept_count; i++) {
        if (calls[i].first_batch) {
            m.accepted_clients += calls[i].who == A_CLIENT;
            m.held_accepts += calls[i].who == A_PROBE;
        } else {
            m.clients_in_backlog += calls[i].who == A_CLIENT;
        }
    }
    return m;
}

static measured run_round(const inputs *in)
{
    scenario s;
    start(&s);
    for (int i = 0; i < in->accepts; i++)
        post_accept(&s, true);
    char line[32];
    for (int i = 0; i < in->probes; i++) { /* they connect and say nothing */
        s.probes[i] = connect_and_say(&s, NULL);
        if (s.probes[i] == INVALID_SOCKET)
            fail_msg("probe %d could not connect: the checker cannot run the scenario", i);
    }
    int connected = 0;
    for (int i = 0; i < in->clients; i++) {
        snprintf(line, sizeof line, "client %d\n", i);
        s.clients[i] = connect_and_say(&s, line);
        connected += s.clients[i] != INVALID_SOCKET;
    }
    /* The moment the exercise asks about: the probes sit, the clients have spoken. */
    int silent = take_packets_until_quiet(&s);
    /* Now each probe speaks, so an accept that one of them holds completes with its line. */
    for (int i = 0; i < in->probes; i++) {
        snprintf(line, sizeof line, "probe %d\n", i);
        if (!net_send_all(s.probes[i], line, strlen(line)))
            fail_msg("probe %d could not send its line", i);
    }
    take_packets_until_quiet(&s);
    finish(&s, in);
    return count(&s, connected, silent);
}

/* ---- the prediction -------------------------------------------------------------------- */

static const char *const names_of_inputs[] = {"accepts", "probes", "clients", NULL};
static const prediction_spec answers[] = {
    {"accepted_clients", names_of_inputs},
    {"held_accepts", names_of_inputs},
    {"clients_in_backlog", names_of_inputs},
    {"outnumbered_accepted_clients", names_of_inputs},
    {"outnumbered_held_accepts", names_of_inputs},
    {"outnumbered_clients_in_backlog", names_of_inputs},
    {"outnumbered_clients_connected", names_of_inputs},
};

static prediction learners;

static long predicted(const char *name, const inputs *in)
{
    long long values[3] = {in->accepts, in->probes, in->clients};
    return (long)ck_predicted(&learners, name, values);
}

/* One answer against its measurement: a line either way; true when they agree. */
static bool agrees(const char *name, const inputs *in, long measured_value)
{
    long expected = predicted(name, in);
    print_message("measured: accepts = %d, probes = %d, clients = %d: %s = %ld; you "
                  "predicted %ld%s\n",
                  in->accepts, in->probes, in->clients, name, measured_value, expected,
                  expected == measured_value ? "" : "  <- differs");
    return expected == measured_value;
}

static void print_round(const inputs *in, const measured *m)
{
    print_message("measured: accepts = %d, probes = %d, clients = %d: %d client(s) "
                  "connected and sent their line; while the probes sat silent, %d accept(s) "
                  "completed\n",
                  in->accepts, in->probes, in->clients, m->clients_connected,
                  m->done_while_silent);
}

/* Two sets of numbers for a part, different in every answer that depends on them, so
 * that no constant fits both. In part 2, at least one set has more probes than accepts:
 * with exactly as many, part 1's formulas would give part 2's answers too. */
static bool differ(const inputs *a, const inputs *b, bool outnumbered)
{
    if (outnumbered)
        return a->accepts != b->accepts && a->clients != b->clients &&
               (a->probes > a->accepts || b->probes > b->accepts);
    return a->accepts - a->probes != b->accepts - b->probes && a->probes != b->probes &&
           a->clients - a->accepts + a->probes != b->clients - b->accepts + b->probes;
}

static inputs draw(bool outnumbered)
{
    inputs in;
    if (outnumbered) {
        in.accepts = ck_random(2, 6);
        in.probes = in.accepts + ck_random(0, 3);
        in.clients = ck_random(1, 8);
    } else {
        in.accepts = ck_random(3, 9);
        in.probes = ck_random(1, in.accepts - 1);
        in.clients = in.accepts - in.probes + ck_random(1, 6);
    }
    return in;
}

static void draw_part(inputs rounds[ROUNDS_PER_PART], bool outnumbered)
{
    rounds[0] = draw(outnumbered);
    do
        rounds[1] = draw(outnumbered);
    while (!differ(&rounds[0], &rounds[1], outnumbered));
}

static void explain(void)
{
    print_message("why: an AcceptEx takes a connection as soon as it arrives; with a receive "
                  "buffer, it then completes only when that connection's first bytes come. "
                  "Microsoft's AcceptEx page says so, and tells a server to look for such "
                  "connections with SO_CONNECT_TIME: the accept socket is connected while "
                  "its accept still waits.\n");
    print_message("why: the waiting accepts take the connections in the order they arrive. "
                  "The probes came first, so they hold as many accepts as there are probes, "
                  "or all of them when the probes are as many or more. Those accepts wait "
                  "for the probes' first bytes, and wait on nobody else.\n");
    print_message("why: the accepts the probes left took the first clients, whose lines "
                  "were already there: those completed. Every other client waits in the "
                  "listener's backlog: the kernel completed its handshake, so its connect "
                  "and its send succeeded, yet nobody accepted it, and nobody will answer it "
                  "until an accept is free. That is why step 05's server passes a receive "
                  "length of 0.\n");
}

static int check_part(bool outnumbered)
{
    inputs rounds[ROUNDS_PER_PART];
    draw_part(rounds, outnumbered);
    const char *prefix = outnumbered ? "outnumbered_" : "";
    char name[64];
    int wrong = 0;
    for (int r = 0; r < ROUNDS_PER_PART; r++) {
        measured m = run_round(&rounds[r]);
        print_round(&rounds[r], &m);
        snprintf(name, sizeof name, "%saccepted_clients", prefix);
        wrong += !agrees(name, &rounds[r], m.accepted_clients);
        snprintf(name, sizeof name, "%sheld_accepts", prefix);
        wrong += !agrees(name, &rounds[r], m.held_accepts);
        snprintf(name, sizeof name, "%sclients_in_backlog", prefix);
        wrong += !agrees(name, &rounds[r], m.clients_in_backlog);
        if (outnumbered)
            wrong += !agrees("outnumbered_clients_connected", &rounds[r], m.clients_connected);
    }
    return wrong;
}

static void the_prediction_matches_what_the_port_delivers(void **state)
{
    (void)state;
    ck_read_prediction("prediction_05_3.txt", "05-acceptex/exercises/prediction_05_3.txt",
                       answers, (int)(sizeof answers / sizeof answers[0]), &learners);
    print_message("measured: part 1, fewer probes than accepts\n");
    int wrong = check_part(false);
    print_message("measured: part 2, at least as many probes as accepts\n");
    wrong += check_part(true);
    explain();
    if (wrong > 0)
        fail_msg("expected your prediction to match what the port delivered in all %d "
                 "rounds; %d answer(s) differed (the lines marked \"<- differs\" above). Your "
                 "first prediction stays recorded.",
                 2 * ROUNDS_PER_PART, wrong);
}

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_prediction_matches_what_the_port_delivers),
    };
    return CK_RUN_CHECKER("exercise 05.3", tests, tk_winsock_up, tk_winsock_down);
}
