#include "tutorial/fault_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>

#include "tutorial/errors.h"

enum { MAX_RULES = 32 };

typedef enum { PICK_NTH, PICK_FROM_NTH, PICK_RANGE, PICK_EVERY_KTH } pick;

typedef struct rule {
    fault_op op;
    long connection; /* 0: any connection, the selector counts every call */
    pick pick;
    long n, last;    /* PICK_RANGE: n to last */
    fault_outcome outcome;
} rule;

typedef struct plan {
    rule rules[MAX_RULES];
    int rule_count;
} plan;

static plan current;
static SRWLOCK current_lock = SRWLOCK_INIT;
static volatile LONG calls[FAULT_OP_COUNT], fired[FAULT_OP_COUNT];
static volatile LONG generation;

/* ---- what each operation may be told ------------------------------------------------- */

#define ALLOWS(kind) (1u << (kind))
#define START_OUTCOMES                                                                  \
    (ALLOWS(FAULT_NOW) | ALLOWS(FAULT_PENDING) | ALLOWS(FAULT_FAIL) | ALLOWS(FAULT_LOST) | \
     ALLOWS(FAULT_EARLY) | ALLOWS(FAULT_DELAY))
#define PACKET_OUTCOMES (ALLOWS(FAULT_FAIL) | ALLOWS(FAULT_DELAY))
#define CALL_OUTCOMES (ALLOWS(FAULT_FAIL) | ALLOWS(FAULT_DELAY))

/* The errors a call that starts an operation can fail with at once, from Microsoft's pages
 * of WSARecv, WSASend and AcceptEx ("Error codes"); for the other operations any error but
 * success and ERROR_IO_PENDING may be named. */
static const DWORD receive_errors[] = {
    WSAECONNABORTED, WSAECONNRESET, WSAEFAULT, WSAEINPROGRESS, WSAEINTR, WSAEINVAL,
    WSAENETDOWN, WSAENETRESET, WSAENOTCONN, WSAENOTSOCK, WSAEOPNOTSUPP, WSAESHUTDOWN,
    WSAETIMEDOUT, WSAEWOULDBLOCK, WSANOTINITIALISED, WSA_OPERATION_ABORTED, 0};
static const DWORD send_errors[] = {
    WSAECONNABORTED, WSAECONNRESET, WSAEFAULT, WSAEINPROGRESS, WSAEINTR, WSAEINVAL,
    WSAENETDOWN, WSAENETRESET, WSAENOBUFS, WSAENOTCONN, WSAENOTSOCK, WSAEOPNOTSUPP,
    WSAESHUTDOWN, WSAEWOULDBLOCK, WSANOTINITIALISED, WSA_OPERATION_ABORTED, 0};
static const DWORD accept_errors[] = {
    WSAECONNRESET, WSAEFAULT, WSAEINPROGRESS, WSAEINVAL, WSAEMFILE, WSAENETDOWN, WSAENOBUFS,
    WSAENOTSOCK, WSAEOPNOTSUPP, WSAEWOULDBLOCK, WSANOTINITIALISED, 0};
/* Microsoft's ConnectEx page ("Error codes"). */
static const DWORD connect_errors[] = {
    WSAEADDRINUSE, WSAEALREADY, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT, WSAECONNREFUSED, WSAEFAULT,
    WSAEINVAL, WSAEISCONN, WSAENETDOWN, WSAENETUNREACH, WSAEHOSTUNREACH, WSAENOBUFS,
    WSAENOTSOCK, WSAETIMEDOUT, WSANOTINITIALISED, 0};
/* With an INFINITE wait, GetQueuedCompletionStatus returns no packet only when its port is
 * closed under it (Microsoft's page: ERROR_ABANDONED_WAIT_0); with a timeout, WAIT_TIMEOUT
 * too (the import layer leaves that rule alone for an INFINITE wait). */
static const DWORD dequeue_errors[] = {ERROR_ABANDONED_WAIT_0, WAIT_TIMEOUT, 0};

typedef struct op_info {
    const char *name;
    unsigned outcomes;     /* ALLOWS(kind) of every outcome a rule may give it */
    bool per_connection;   /* may take @M */
    const DWORD *errors;   /* NULL: any error but 0 and ERROR_IO_PENDING */
    const char *call;      /* the call, for a refusal's reason */
} op_info;

static const op_info ops[FAULT_OP_COUNT] = {
    [FAULT_OP_ACCEPT] = {"accept", START_OUTCOMES, false, accept_errors, "AcceptEx"},
    [FAULT_OP_RECEIVE] = {"receive", START_OUTCOMES | ALLOWS(FAULT_SHORT), true,
                          receive_errors, "WSARecv"},
    [FAULT_OP_SEND] = {"send", START_OUTCOMES | ALLOWS(FAULT_SHORT), true, send_errors,
                       "WSASend"},
    [FAULT_OP_ACCEPT_DONE] = {"accept-done", PACKET_OUTCOMES, false, NULL, "an accept's packet"},
    [FAULT_OP_RECEIVE_DONE] = {"receive-done", PACKET_OUTCOMES | ALLOWS(FAULT_EOF), true, NULL,
                               "a receive's packet"},
    [FAULT_OP_SEND_DONE] = {"send-done", PACKET_OUTCOMES, true, NULL, "a send's packet"},
    [FAULT_OP_DEQUEUE] = {"dequeue", CALL_OUTCOMES, false, dequeue_errors,
                          "GetQueuedCompletionStatus"},
    [FAULT_OP_POST] = {"post", CALL_OUTCOMES, false, NULL, "PostQueuedCompletionStatus"},
    [FAULT_OP_CANCEL] = {"cancel", CALL_OUTCOMES, false, NULL, "CancelIoEx"},
    [FAULT_OP_UPDATE_CONTEXT] = {"update-context", CALL_OUTCOMES, false, NULL,
                                 "setsockopt(SO_UPDATE_ACCEPT_CONTEXT)"},
    [FAULT_OP_SOCKET] = {"socket", CALL_OUTCOMES, false, NULL, "WSASocketW"},
    [FAULT_OP_PORT] = {"port", CALL_OUTCOMES, false, NULL, "CreateIoCompletionPort"},
    [FAULT_OP_ATTACH] = {"attach", CALL_OUTCOMES, false, NULL, "CreateIoCompletionPort"},
    [FAULT_OP_ALLOC] = {"alloc", CALL_OUTCOMES, false, NULL, "malloc"},
    /* No "lost" or "early": no rule follows a connect's packet (there is no connect-done). */
    [FAULT_OP_CONNECT] = {"connect",
                          ALLOWS(FAULT_NOW) | ALLOWS(FAULT_PENDING) | ALLOWS(FAULT_FAIL) |
                              ALLOWS(FAULT_DELAY),
                          false, connect_errors, "ConnectEx"},
    [FAULT_OP_CLOSE] = {"close", 0, false, NULL, "closesocket"},
};

const char *fault_op_name(fault_op op)
{
    return op < FAULT_OP_COUNT ? ops[op].name : "?";
}

bool fault_op_of(const char *name, fault_op *op)
{
    for (int i = 0; i < FAULT_OP_COUNT; i++) {
        if (strcmp(ops[i].name, name) == 0) {
            *op = (fault_op)i;
            return true;
        }
    }
    return false;
}

/* ---- parsing ------------------------------------------------------------------------- */

static bool fail(char *why, size_t size, const char *text, const char *problem)
{
    if (why != NULL)
        snprintf(why, size, "\"%s\": %s", text, problem);
    return false;
}

static bool parse_number(const char *text, long *value)
{
    char *end = NULL;
    long parsed = strtol(text, &end, 10);
    if (end == text || *end != '\0' || parsed < 0)
        return false;
    *value = parsed;
    return true;
}

static bool parse_error(const char *text, DWORD *code)
{
    long number = 0;
    if (parse_number(text, &number)) {
        *code = (DWORD)number;
        return true;
    }
    return error_code_of(text, code);
}

/* "#N", "#N+", "#N-K", "%K" or "#*" into r. */
static bool parse_selector(const char *text, rule *r)
{
    if (strcmp(text, "#*") == 0) {
        r->pick = PICK_FROM_NTH;
        r->n = 1;
        return true;
    }
    char digits[24];
    size_t length = strlen(text);
    if (length < 2 || length >= sizeof digits || (text[0] != '#' && text[0] != '%'))
        return false;
    memcpy(digits, text + 1, length); /* with the NUL */
    if (text[0] == '%') {
        r->pick = PICK_EVERY_KTH;
        return parse_number(digits, &r->n) && r->n >= 1;
    }
    char *dash = strchr(digits, '-');
    if (digits[length - 2] == '+') {
        r->pick = PICK_FROM_NTH;
        digits[length - 2] = '\0';
    } else if (dash != NULL) {
        r->pick = PICK_RANGE;
        *dash = '\0';
        if (!parse_number(dash + 1, &r->last))
            return false;
    } else {
        r->pick = PICK_NTH;
    }
    return parse_number(digits, &r->n) && r->n >= 1 && (r->pick != PICK_RANGE || r->last >= r->n);
}

static bool word_is(const char *text, size_t length, const char *word)
{
    return strlen(word) == length && strncmp(text, word, length) == 0;
}

static bool parse_outcome(const char *text, fault_outcome *outcome)
{
    static const struct {
        const char *word;
        fault_kind kind;
    } bare[] = {{"now", FAULT_NOW}, {"pending", FAULT_PENDING}, {"eof", FAULT_EOF},
                {"lost", FAULT_LOST}, {"early", FAULT_EARLY},    {"fail", FAULT_FAIL}};
    const char *colon = strchr(text, ':');
    if (colon == NULL) {
        for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++) {
            if (strcmp(text, bare[i].word) == 0) {
                *outcome = (fault_outcome){bare[i].kind, 0};
                return true;
            }
        }
        return false;
    }
    size_t word = (size_t)(colon - text);
    long number = 0;
    if (word_is(text, word, "fail") || word_is(text, word, "error")) {
        outcome->kind = FAULT_FAIL;
        return parse_error(colon + 1, &outcome->value);
    }
    if (!parse_number(colon + 1, &number))
        return false;
    if (word_is(text, word, "delay") && number <= 60000) {
        *outcome = (fault_outcome){FAULT_DELAY, (DWORD)number};
        return true;
    }
    if (word_is(text, word, "short") && number <= 0x7fffffffL) {
        *outcome = (fault_outcome){FAULT_SHORT, (DWORD)number};
        return true;
    }
    return false;
}

static bool listed(const DWORD *errors, DWORD code)
{
    for (; *errors != 0; errors++) {
        if (*errors == code)
            return true;
    }
    return false;
}

/* Refuses what Windows cannot answer; why says what it would answer instead. */
static bool possible(const rule *r, const char *text, char *why, size_t why_size)
{
    const op_info *info = &ops[r->op];
    fault_kind kind = r->outcome.kind;
    DWORD value = r->outcome.value;
    char name[32];
    if (r->connection > 0 && !info->per_connection)
        return fail(why, why_size, text, "@M (a connection) is for receive, send and their -done");
    if (info->outcomes == 0)
        return fail(why, why_size, text, "counted only: no rule may change it");
    if (r->op == FAULT_OP_ALLOC && kind == FAULT_FAIL) {
        if (value != 0)
            return fail(why, why_size, text, "an allocation fails with NULL: write alloc...=fail");
        return true;
    }
    if (kind == FAULT_FAIL && value == ERROR_IO_PENDING)
        return fail(why, why_size, text,
                    "ERROR_IO_PENDING (997) is not a failure: the operation started (that is "
                    "\"pending\")");
    if (kind == FAULT_FAIL && value == 0)
        return fail(why, why_size, text, "0 is success, not an error");
    if (kind == FAULT_SHORT && value == 0)
        return fail(why, why_size, text, "short:0 asks for nothing; a short call moves at least 1 byte");
    if (kind == FAULT_EOF && r->op == FAULT_OP_SEND_DONE)
        return fail(why, why_size, text,
                    "a send's packet says how many bytes it moved; make the send itself short "
                    "(send#N=short:BYTES)");
    if (kind == FAULT_EOF && r->op == FAULT_OP_ACCEPT_DONE)
        return fail(why, why_size, text,
                    "an AcceptEx that asks for no data always completes with 0 bytes");
    if (kind == FAULT_SHORT && r->op == FAULT_OP_ACCEPT)
        return fail(why, why_size, text, "these servers' AcceptEx asks for no data to cut short");
    if (!(info->outcomes & ALLOWS(kind))) {
        snprintf(name, sizeof name, "not an outcome of %s", info->name);
        return fail(why, why_size, text, name);
    }
    if (kind == FAULT_FAIL && (value == WSAEMSGSIZE || value == WSAEDISCON) &&
        r->op <= FAULT_OP_SEND)
        return fail(why, why_size, text,
                    "a warning of message-oriented sockets (the call fails and a packet still "
                    "comes); a TCP socket never gives it");
    if (kind == FAULT_FAIL && info->errors != NULL && !listed(info->errors, value)) {
        char problem[160];
        snprintf(problem, sizeof problem, "%s does not fail with %s (Microsoft's page of %s)",
                 info->call, error_name(value, name, sizeof name), info->call);
        return fail(why, why_size, text, problem);
    }
    return true;
}

/* One rule, "OPERATION[@M]SELECTOR=OUTCOME", written into r. */
static bool parse_rule(char *text, rule *r, char *why, size_t why_size)
{
    char *equals = strchr(text, '=');
    if (equals == NULL)
        return fail(why, why_size, text, "a rule is OPERATION#N=OUTCOME");
    *equals = '\0';
    size_t name = strcspn(text, "@#%");
    char operation[24];
    if (name == 0 || name >= sizeof operation || text[name] == '\0')
        return fail(why, why_size, text, "an operation, then #N, #N+, #N-K, #* or %K");
    memcpy(operation, text, name);
    operation[name] = '\0';
    if (!fault_op_of(operation, &r->op))
        return fail(why, why_size, operation, "not an operation (tutorial/fault_plan.h lists them)");
    const char *selector = text + name;
    if (*selector == '@') {
        char *end = NULL;
        r->connection = strtol(selector + 1, &end, 10);
        if (end == selector + 1 || r->connection < 1)
            return fail(why, why_size, selector, "@M is a connection's number, from 1");
        selector = end;
    }
    if (!parse_selector(selector, r))
        return fail(why, why_size, selector, "not #N, #N+, #N-K, #* or %K (N, K from 1)");
    if (!parse_outcome(equals + 1, &r->outcome))
        return fail(why, why_size, equals + 1,
                    "not now, pending, fail:ERROR, short:BYTES, lost, early, error:ERROR, eof "
                    "or delay:MS");
    *equals = '=';
    return possible(r, text, why, why_size);
}

static bool parse_plan(const char *text, plan *p, char *why, size_t why_size)
{
    char copy[1024];
    if (strlen(text) >= sizeof copy)
        return fail(why, why_size, "...", "the plan is too long");
    strcpy(copy, text);
    for (char *next = copy, *item; (item = next) != NULL;) {
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        if (*item == '\0')
            continue;
        if (p->rule_count == MAX_RULES)
            return fail(why, why_size, item, "too many rules");
        if (!parse_rule(item, &p->rules[p->rule_count++], why, why_size))
            return false;
    }
    return true;
}

bool fault_plan_set(const char *text, char *why, size_t why_size)
{
    static plan parsed; /* large: not on the stack; guarded by current_lock */
    AcquireSRWLockExclusive(&current_lock);
    memset(&parsed, 0, sizeof parsed);
    bool ok = text == NULL || parse_plan(text, &parsed, why, why_size);
    if (ok) {
        current = parsed;
        for (int i = 0; i < FAULT_OP_COUNT; i++) {
            InterlockedExchange(&calls[i], 0);
            InterlockedExchange(&fired[i], 0);
        }
        InterlockedIncrement(&generation);
    }
    ReleaseSRWLockExclusive(&current_lock);
    return ok;
}

long fault_plan_generation(void)
{
    return InterlockedCompareExchange(&generation, 0, 0);
}

bool fault_plan_has_rules(void)
{
    AcquireSRWLockShared(&current_lock);
    bool any = current.rule_count > 0;
    ReleaseSRWLockShared(&current_lock);
    return any;
}

/* ---- taking outcomes ----------------------------------------------------------------- */

static bool picks(const rule *r, long call)
{
    switch (r->pick) {
    case PICK_NTH: return call == r->n;
    case PICK_FROM_NTH: return call >= r->n;
    case PICK_RANGE: return call >= r->n && call <= r->last;
    case PICK_EVERY_KTH: return call % r->n == 0;
    }
    return false;
}

fault_outcome fault_plan_take_op(fault_op op, long connection, long on_connection)
{
    fault_outcome outcome = {FAULT_REAL, 0};
    if (op >= FAULT_OP_COUNT)
        return outcome;
    long call = InterlockedIncrement(&calls[op]);
    AcquireSRWLockShared(&current_lock);
    for (int i = 0; i < current.rule_count; i++) {
        const rule *r = &current.rules[i];
        if (r->op != op)
            continue;
        bool match = r->connection == 0 ? picks(r, call)
                                        : r->connection == connection && picks(r, on_connection);
        if (match) {
            outcome = r->outcome;
            break;
        }
    }
    ReleaseSRWLockShared(&current_lock);
    if (outcome.kind != FAULT_REAL)
        InterlockedIncrement(&fired[op]);
    return outcome;
}

fault_outcome fault_plan_take(const char *operation)
{
    fault_op op;
    if (!fault_op_of(operation, &op))
        return (fault_outcome){FAULT_REAL, 0};
    return fault_plan_take_op(op, 0, 0);
}

long fault_plan_calls(const char *operation)
{
    fault_op op;
    return fault_op_of(operation, &op) ? InterlockedCompareExchange(&calls[op], 0, 0) : 0;
}

long fault_plan_fired(const char *operation)
{
    fault_op op;
    return fault_op_of(operation, &op) ? InterlockedCompareExchange(&fired[op], 0, 0) : 0;
}

void fault_plan_pause(fault_outcome outcome)
{
    if (outcome.kind == FAULT_DELAY)
        Sleep(outcome.value); /* the adversary's delay: widens a race window on purpose */
}
