/* Why a context's two facts, "in progress" and "disposed", live in ONE word changed by one
 * atomic operation.
 *
 * The incident's library keeps them as two plain booleans. Its Dispose checks "in progress",
 * frees if it is clear, then sets "disposed"; its completion handler clears "in progress",
 * then frees if "disposed" is set. Each side is two steps, and the other thread can run
 * between them. The first test plays every order of those four steps, one at a time on one
 * thread, so that each order is certain to happen: one of them frees twice, one never frees.
 *
 * The step's own code does each side in ONE interlocked operation that changes its bit and
 * returns the word as it was (async_socket.c, context_complete and context_dispose). Only
 * two orders exist then, and the second test runs both on the real code: either way the
 * context is freed exactly once. (complete_and_dispose_racing_free_the_context_exactly_once
 * in test_paths.c races them on two threads.) */
#include <stdbool.h>
#include <stdio.h>

#include "support.h"

/* ---- the two plain flags, as the incident's library has them ------------------------- */

typedef struct {
    bool in_progress;
    bool disposed;
    int frees; /* how many times the context was freed: 1 is right */
} two_flags;

/* One step of either side; the other side may run between a side's two steps. */
static void dispose_step(two_flags *c, int step)
{
    if (step == 0 && !c->in_progress)
        c->frees++; /* nothing in flight, so free now */
    if (step == 1)
        c->disposed = true; /* and leave the free to the completion otherwise */
}

static void complete_step(two_flags *c, int step)
{
    if (step == 0)
        c->in_progress = false;
    if (step == 1 && c->disposed)
        c->frees++; /* dispose came first and left the free to us */
}

/* Runs the four steps in the order given by `order`: bit i set means the i-th step taken
 * is the completion's next step, clear means dispose's. Returns how often it freed. */
static int frees_in_order(unsigned order)
{
    two_flags c = {.in_progress = true, .disposed = false, .frees = 0};
    int dispose_done = 0, complete_done = 0;
    for (int i = 0; i < 4; i++) {
        if (order & (1u << i))
            complete_step(&c, complete_done++);
        else
            dispose_step(&c, dispose_done++);
    }
    return c.frees;
}

static void two_plain_flags_free_twice_or_never_in_some_order(void **state)
{
    (void)state;
    int orders = 0, freed_never = 0, freed_once = 0, freed_twice = 0;
    for (unsigned order = 0; order < 16; order++) {
        unsigned completion_steps = (order & 1) + (order >> 1 & 1) + (order >> 2 & 1) + (order >> 3);
        if (completion_steps != 2)
            continue; /* each side takes exactly its two steps */
        orders++;
        int frees = frees_in_order(order);
        freed_never += frees == 0;
        freed_once += frees == 1;
        freed_twice += frees == 2;
    }
    assert_int_equal(orders, 6);
    /* dispose checks, the completion clears and checks, dispose sets: nobody frees (a leak) */
    assert_int_equal(freed_never, 1);
    /* the completion clears, dispose checks and frees and sets, the completion frees again */
    assert_int_equal(freed_twice, 1);
    assert_int_equal(freed_once, 4);
}

/* ---- one atomic word, as this step has it ---------------------------------------------- */

static void one_atomic_word_frees_exactly_once_in_either_order(void **state)
{
    (void)state;
    registry_totals before = totals();

    /* The completion first: it only clears the bit; dispose then finds nothing in flight. */
    async_socket *s = socket_with_a_receive_in_progress();
    assert_false(context_complete(s->in, 0));
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts);

    /* Dispose first: it leaves the free to the completion, which does it. */
    s = socket_with_a_receive_in_progress();
    io_context *in = s->in;
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts + 1); /* the receive's, kept for it */
    assert_true(context_complete(in, ERROR_OPERATION_ABORTED));
    assert_int_equal(totals().contexts, before.contexts);
    assert_int_equal(totals().sockets, before.sockets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_plain_flags_free_twice_or_never_in_some_order),
        cmocka_unit_test(one_atomic_word_frees_exactly_once_in_either_order),
    };
    return cmocka_run_group_tests_name("two_flags", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
