/* A fault plan: a small script that says what the Nth call of an operation should answer,
 * so that a test (or a learner, with a server's --faults flag) can drive every outcome
 * Windows can produce, including those Wine never produces. The plan only decides; the
 * import layer (tutorial/faults.h) carries its answers out, from outside the program's own
 * code, by standing in for the Windows functions the program imports.
 *
 * A plan is rules separated by commas:   OPERATION[@M]SELECTOR=OUTCOME
 *   OPERATION  what the rule is about (the calls each name stands for are in faults.h):
 *                accept, receive, send            starting an operation (AcceptEx,
 *                                                 WSARecv, WSASend; accept also stands
 *                                                 for accept(), which may only fail)
 *                accept-done, receive-done,       the completion packet of one
 *                send-done
 *                dequeue                          GetQueuedCompletionStatus(Ex) itself
 *                post                             PostQueuedCompletionStatus
 *                cancel                           CancelIoEx
 *                update-context                   setsockopt(SO_UPDATE_ACCEPT_CONTEXT)
 *                socket                           WSASocketW (the servers' own
 *                                                 sockets; socket() is left alone)
 *                port, attach                     CreateIoCompletionPort making a port,
 *                                                 and tying a handle to one
 *                alloc                            malloc, calloc and realloc
 *                connect                          ConnectEx (now, pending, fail, delay)
 *   @M         only on the Mth connection (in the order of their first send or receive;
 *              receive, send and their -done only); the selector then counts that
 *              connection's calls
 *   SELECTOR   #N the Nth call (from 1) | #N+ the Nth and every later one | #N-K calls N
 *              to K | %K every Kth call (K, 2K, ...) | #* every call
 *   OUTCOME    starting an operation:
 *                now          the real call; the caller is told it finished at once
 *                pending      the real call; the caller is told it is pending
 *                fail:ERROR   not made; fails at once with ERROR: no packet will come
 *                short:BYTES  the real call, for at most BYTES bytes (receive, send)
 *                lost         not made, yet reported pending: a packet that never comes
 *                early        the real call, which returns only once a worker has taken
 *                             its packet off the port (bounded)
 *              a completion packet:  error:ERROR (0 bytes) | eof (receive-done: 0 bytes)
 *              any other call:       fail:ERROR (alloc: fail, a NULL)
 *              every operation:      delay:MS (sleep, then the real call)
 *   ERROR      a number or a name error_name() knows (WSAECONNRESET, ERROR_NETNAME_DELETED)
 * Example:  "accept#9-16=fail:WSAECONNRESET,receive@2#1=fail:WSAECONNRESET,send#*=short:1"
 *
 * An outcome Windows cannot produce is refused with a reason: a failure with
 * ERROR_IO_PENDING (that is "pending"), a datagram's warning on a TCP call, a short
 * accept, an orderly end for a send. The plan is process-wide plumbing: it teaches
 * nothing by itself. */
#ifndef TUTORIAL_FAULT_PLAN_H
#define TUTORIAL_FAULT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <windows.h>

typedef enum {
    FAULT_REAL,    /* no rule applies: the real call and its own outcome            */
    FAULT_NOW,     /* the real call, reported as finished at once                   */
    FAULT_PENDING, /* the real call, reported as pending                            */
    FAULT_FAIL,    /* fail at once with .value, or complete with error .value       */
    FAULT_SHORT,   /* the real call, for at most .value bytes                       */
    FAULT_LOST,    /* not made, reported pending: its packet never comes            */
    FAULT_EARLY,   /* the real call, returning once its packet has been dequeued    */
    FAULT_EOF,     /* complete with success and 0 bytes                             */
    FAULT_DELAY    /* sleep .value ms, then the real call                           */
} fault_kind;

typedef struct fault_outcome {
    fault_kind kind;
    DWORD value; /* the error of FAULT_FAIL, the bytes of FAULT_SHORT, the ms of FAULT_DELAY */
} fault_outcome;

/* The operations a rule can name, in the order of the list above. */
typedef enum {
    FAULT_OP_ACCEPT,
    FAULT_OP_RECEIVE,
    FAULT_OP_SEND,
    FAULT_OP_ACCEPT_DONE,
    FAULT_OP_RECEIVE_DONE,
    FAULT_OP_SEND_DONE,
    FAULT_OP_DEQUEUE,
    FAULT_OP_POST,
    FAULT_OP_CANCEL,
    FAULT_OP_UPDATE_CONTEXT,
    FAULT_OP_SOCKET,
    FAULT_OP_PORT,
    FAULT_OP_ATTACH,
    FAULT_OP_ALLOC,
    FAULT_OP_CONNECT,
    FAULT_OP_CLOSE, /* closesocket: counted, no rule may name it */
    FAULT_OP_COUNT
} fault_op;

/* The name of an operation ("receive-done"), and the operation of a name (false if none). */
const char *fault_op_name(fault_op op);
bool fault_op_of(const char *name, fault_op *op);

/* Parses text and makes it the process's plan (NULL or "" clears it), resetting every
 * call count. Returns false, with the plan unchanged and a reason in why, when the text is
 * not a plan, or names an outcome Windows cannot produce. Set it while no operation is in
 * flight. */
bool fault_plan_set(const char *text, char *why, size_t why_size);

/* Counts the plans set so far: what counts per connection (tutorial/faults.h) starts anew
 * when it changes, as the plan's own counts do. */
long fault_plan_generation(void);

/* True when the plan has at least one rule. */
bool fault_plan_has_rules(void);

/* Counts one call of op and returns what the plan says for it (FAULT_REAL when no rule
 * matches). connection is the call's connection (from 1; 0 when it has none) and
 * on_connection the call's number on it, for rules with @M. */
fault_outcome fault_plan_take_op(fault_op op, long connection, long on_connection);

/* fault_plan_take_op by name, for a call with no connection; an unknown name gets
 * FAULT_REAL and is not counted. */
fault_outcome fault_plan_take(const char *operation);

/* How many calls of operation were counted since the plan was set, and how many of them
 * a rule changed: a test checks the second to prove its faults were really injected. */
long fault_plan_calls(const char *operation);
long fault_plan_fired(const char *operation);

/* Sleeps for a FAULT_DELAY outcome (and does nothing for the others). */
void fault_plan_pause(fault_outcome outcome);

#endif
