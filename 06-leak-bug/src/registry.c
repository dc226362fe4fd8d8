#include "registry.h"

#include <stdbool.h>

#include "async_socket.h"
#include "tutorial/errors.h"

static SRWLOCK registry_lock = SRWLOCK_INIT;
static tracked registry_head = {&registry_head, &registry_head, TRACKED_SOCKET, 0};

/* snippet:begin registry_add */
void registry_add(tracked *node, tracked_kind kind, size_t bytes)
{
    node->kind = kind;
    node->bytes = bytes;
    AcquireSRWLockExclusive(&registry_lock);
    node->next = &registry_head;
    node->prev = registry_head.prev;
    registry_head.prev->next = node;
    registry_head.prev = node;
    ReleaseSRWLockExclusive(&registry_lock);
}

void registry_remove(tracked *node)
{
    AcquireSRWLockExclusive(&registry_lock);
    node->prev->next = node->next;
    node->next->prev = node->prev;
    ReleaseSRWLockExclusive(&registry_lock);
}
/* snippet:end registry_add */

static io_context *context_of(tracked *node)
{
    return (io_context *)((char *)node - offsetof(io_context, node));
}

static async_socket *socket_of(tracked *node)
{
    return (async_socket *)((char *)node - offsetof(async_socket, node));
}

/* snippet:begin registry_totals */
void registry_get_totals(registry_totals *totals)
{
    *totals = (registry_totals){0};
    AcquireSRWLockShared(&registry_lock);
    for (tracked *node = registry_head.next; node != &registry_head; node = node->next) {
        if (node->kind == TRACKED_SOCKET) {
            totals->sockets++;
            continue;
        }
        totals->contexts++;
        totals->context_bytes += node->bytes;
        LONG state = context_state(context_of(node));
        if ((state & CONTEXT_IN_PROGRESS) && (state & CONTEXT_DISPOSED))
            totals->disposed_in_progress++;
    }
    ReleaseSRWLockShared(&registry_lock);
}
/* snippet:end registry_totals */

/* One line of the report: the objects that share a state. */
typedef struct report_group {
    tracked_kind kind;
    io_operation operation;
    LONG state;
    DWORD last_error;
    long count;
    double youngest_s, oldest_s;
} report_group;

enum { MAX_GROUPS = 32 };

static void add_to_groups(report_group *groups, int *used, report_group key, double age_s)
{
    for (int i = 0; i < *used; i++) {
        report_group *g = &groups[i];
        if (g->kind == key.kind && g->operation == key.operation && g->state == key.state &&
            g->last_error == key.last_error) {
            g->count++;
            g->youngest_s = age_s < g->youngest_s ? age_s : g->youngest_s;
            g->oldest_s = age_s > g->oldest_s ? age_s : g->oldest_s;
            return;
        }
    }
    if (*used == MAX_GROUPS)
        return; /* more kinds of leak than a report needs to tell apart */
    key.count = 1;
    key.youngest_s = key.oldest_s = age_s;
    groups[(*used)++] = key;
}

static void print_group(FILE *out, const report_group *g)
{
    if (g->kind == TRACKED_SOCKET) {
        fprintf(out, "%ld x socket disposed=%d age %.1f-%.1f s\n", g->count,
                (g->state & CONTEXT_DISPOSED) != 0, g->youngest_s, g->oldest_s);
        return;
    }
    char name[32];
    fprintf(out, "%ld x context op=%s in_progress=%d disposed=%d last_error=%s age %.1f-%.1f s\n",
            g->count, operation_name(g->operation), (g->state & CONTEXT_IN_PROGRESS) != 0,
            (g->state & CONTEXT_DISPOSED) != 0, error_name(g->last_error, name, sizeof name),
            g->youngest_s, g->oldest_s);
}

void registry_print_report(FILE *out)
{
    report_group groups[MAX_GROUPS];
    int used = 0;
    long contexts = 0;
    size_t bytes = 0;
    ULONGLONG now = GetTickCount64();
    AcquireSRWLockShared(&registry_lock);
    for (tracked *node = registry_head.next; node != &registry_head; node = node->next) {
        report_group key = {node->kind, OP_NONE, 0, 0, 0, 0, 0};
        ULONGLONG born;
        if (node->kind == TRACKED_CONTEXT) {
            io_context *context = context_of(node);
            key.operation = context->operation;
            key.state = context_state(context);
            key.last_error = context->last_error;
            born = context->created_ms;
            contexts++;
            bytes += node->bytes;
        } else {
            async_socket *s = socket_of(node);
            key.state = s->disposed ? CONTEXT_DISPOSED : 0;
            born = s->created_ms;
        }
        add_to_groups(groups, &used, key, (double)(now - born) / 1000.0);
    }
    ReleaseSRWLockShared(&registry_lock);
    for (int i = 0; i < used; i++)
        print_group(out, &groups[i]);
    fprintf(out, "leaked: %ld contexts, %llu bytes\n", contexts, (unsigned long long)bytes);
    fflush(out);
}
