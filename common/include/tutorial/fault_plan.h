/* A fault plan: a small script that tells the steps' outcome seams what the Nth call of an
 * operation should return, so that a test (or a learner, with a server's --faults flag) can
 * drive every outcome Windows can produce, including those Wine never produces.
 *
 * A plan is rules separated by commas:   OPERATION SELECTOR = OUTCOME
 *   OPERATION  a name the step's seam asks about: accept, receive, send, post (starting an
 *              operation), accept-done, receive-done, send-done (its completion packet),
 *              published, accepted (pause points of steps 06 and 07: just after a new
 *              socket joined the server's list; after an accept, before the first receive),
 *              cancel (step 08's CancelIoEx in one of its cases); an operation is any name
 *              a seam asks for, and these are the ones the steps' seams use
 *   SELECTOR   #N the Nth call (from 1) | #N+ the Nth and every later one | %K every Kth
 *              call (K, 2K, ...) | #* every call
 *   OUTCOME    for a start:       now | pending | fail:ERROR | delay:MS
 *              for a completion:  eof | error:ERROR | delay:MS
 *              for a pause point: delay:MS (sleep that long there)
 *   ERROR      a number or a name error_name() knows (WSAECONNRESET, ERROR_NETNAME_DELETED)
 * Example:  "accept%5=fail:WSAECONNRESET,receive-done#2=error:64"
 *
 * What each outcome means is up to the seam (see the step's async_socket.c or server.c);
 * "now" and "pending" make the real call and change only what it reports, "fail" does not
 * make it, "delay" sleeps first and then makes the real call (a test-only widening of a
 * race window). The plan is process-wide and plumbing: it teaches nothing by itself. */
#ifndef TUTORIAL_FAULT_PLAN_H
#define TUTORIAL_FAULT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <windows.h>

typedef enum {
    FAULT_REAL,    /* no rule applies: the real call and its own outcome      */
    FAULT_NOW,     /* report success at once                                  */
    FAULT_PENDING, /* report ERROR_IO_PENDING                                 */
    FAULT_FAIL,    /* fail at once with .value, or complete with error .value */
    FAULT_EOF,     /* complete with success and 0 bytes                       */
    FAULT_DELAY    /* sleep .value ms, then the real call                     */
} fault_kind;

typedef struct fault_outcome {
    fault_kind kind;
    DWORD value; /* the error of FAULT_FAIL, the milliseconds of FAULT_DELAY */
} fault_outcome;

/* Parses text and makes it the process's plan (NULL or "" clears it), resetting every
 * call count. Returns false, with the plan unchanged and a reason in why, when the text is
 * not a plan. Set it while no operation is in flight. */
bool fault_plan_set(const char *text, char *why, size_t why_size);

/* Called by a seam once per call of operation: counts the call and returns what the plan
 * says for it (FAULT_REAL when no rule matches, and always when no plan is set). */
fault_outcome fault_plan_take(const char *operation);

/* How many calls of operation the seams made since the plan was set, and how many of them
 * a rule changed: a test checks the second to prove its faults were really injected. */
long fault_plan_calls(const char *operation);
long fault_plan_fired(const char *operation);

/* Sleeps for a FAULT_DELAY outcome (and does nothing for the others). */
void fault_plan_pause(fault_outcome outcome);

#endif
