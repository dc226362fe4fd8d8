/* Checker of exercise 06.3 (find the bug): flags_complete and flags_dispose
 * (context_flags.c) must free a context exactly once, whichever way a completion on one
 * thread and a dispose on another interleave. Left to chance, the bad moments are a few
 * instructions wide and rarely come; so the checker makes each of them happen, from outside
 * the code, one after the other:
 * - it puts the context's memory out of reach (PAGE_NOACCESS), so that every touch of it
 *   stops the thread that makes it in this program's exception handler (on_touch), and
 *   counts the held side's touches of the context: its state word, and every other field;
 * - it holds one side just before its k-th touch of the context, runs the other side whole
 *   meanwhile, then lets the held side go on; for k = 1, 2, ... until the held side ends
 *   before its k-th touch, with either side held.
 * Whatever the code does between two touches, the other side runs there: after a side's
 * change of the word too, so a field it writes or reads afterwards (last_error, owner) is
 * touched after the other side may have freed the context. It runs on step
 * 06's real socket objects, under the page heap, which stops the process at a touch of the
 * context after it was freed. */
#include <stdio.h>
#include <stdlib.h>

#include "context_flags.h"
#include "support.h"
#include "tutorial/checkkit.h"

enum { TRAP_FLAG = 0x100, MAX_TOUCHES = 32, STEPPERS = 4 };

/* ---- one side on a thread of its own, started when its event is set ------------------ */

typedef struct side {
    const char *name;
    bool is_completion;
    io_context *context;
    HANDLE go, done, thread;
    DWORD thread_id;
    bool said_freed; /* what flags_complete returned */
} side;

static DWORD WINAPI side_main(void *argument)
{
    side *me = argument;
    if (WaitForSingleObject(me->go, 4 * TK_PROMPT_MS) != WAIT_OBJECT_0)
        return 1;
    if (me->is_completion)
        me->said_freed = flags_complete(me->context, ERROR_OPERATION_ABORTED);
    else
        flags_dispose(me->context);
    SetEvent(me->done);
    return 0;
}

static void start_side(side *s, const char *name, bool is_completion, io_context *context)
{
    *s = (side){.name = name, .is_completion = is_completion, .context = context};
    s->go = CreateEventW(NULL, TRUE, FALSE, NULL);
    s->done = CreateEventW(NULL, TRUE, FALSE, NULL);
    assert_non_null(s->go);
    assert_non_null(s->done);
    s->thread = CreateThread(NULL, 0, side_main, s, 0, &s->thread_id);
    assert_non_null(s->thread);
}

static void end_side(side *s)
{
    SetEvent(s->go); /* in case it never ran */
    assert_int_equal(WaitForSingleObject(s->thread, 4 * TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(s->thread);
    CloseHandle(s->go);
    CloseHandle(s->done);
}

/* ---- holding a side between two touches of the state word ----------------------------- */

static struct hold {
    char *first_page;        /* the pages the context lies on */
    SIZE_T length;
    io_context *context;
    volatile LONG armed;     /* 1: the pages are out of reach and touches are counted */
    const char *held_name;
    DWORD held_thread;       /* the side held ... */
    int hold_before;         /* ... just before this touch of the context (1: the first) */
    int touches;             /* its touches of the context so far, any field */
    int state_touches;       /* those of them that touched the state word */
    side *other;             /* the side that runs whole meanwhile */
    bool held;               /* it happened */
    bool other_finished;     /* the other side ended while the held one waited */
    long freed_by_other;     /* how many times the other side freed the context */
    volatile LONG after_free; /* 1: the context is freed; a touch of it is a use after free */
    int touches_after_free;
    volatile LONG stepping[STEPPERS]; /* threads let through one instruction */
} hold;

static void put_out_of_reach(bool out)
{
    DWORD old;
    MEMORY_BASIC_INFORMATION page;
    if (VirtualQuery(hold.first_page, &page, sizeof page) == sizeof page &&
        page.State == MEM_COMMIT) /* the page heap decommits a freed block's pages */
        VirtualProtect(hold.first_page, hold.length, out ? PAGE_NOACCESS : PAGE_READWRITE, &old);
}

static bool pages_committed(void)
{
    MEMORY_BASIC_INFORMATION page;
    return VirtualQuery(hold.first_page, &page, sizeof page) == sizeof page &&
           page.State == MEM_COMMIT;
}

/* Lets the touch happen, then takes the pages out of reach again after that one
 * instruction (the trap flag: the CPU stops the thread again once it has run it). */
static LONG let_one_touch_through(EXCEPTION_POINTERS *p)
{
    LONG me = (LONG)GetCurrentThreadId();
    for (int i = 0; i < STEPPERS; i++) {
        if (InterlockedCompareExchange(&hold.stepping[i], me, 0) == 0) {
            put_out_of_reach(false);
            p->ContextRecord->EFlags |= TRAP_FLAG;
            return EXCEPTION_CONTINUE_EXECUTION;
        }
    }
    return EXCEPTION_CONTINUE_SEARCH; /* more threads than expected touch these pages */
}

static LONG after_one_touch(EXCEPTION_POINTERS *p)
{
    LONG me = (LONG)GetCurrentThreadId();
    for (int i = 0; i < STEPPERS; i++) {
        if (InterlockedCompareExchange(&hold.stepping[i], 0, me) == me) {
            if (InterlockedCompareExchange(&hold.armed, 0, 0) ||
                InterlockedCompareExchange(&hold.after_free, 0, 0))
                put_out_of_reach(true);
            p->ContextRecord->EFlags &= ~TRAP_FLAG;
            return EXCEPTION_CONTINUE_EXECUTION;
        }
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

/* The held side waits here, just before its touch, while the other side runs whole. */
static void run_the_other_side_now(void)
{
    InterlockedExchange(&hold.armed, 0);
    put_out_of_reach(false);
    long before = totals().contexts;
    SetEvent(hold.other->go);
    /* Bounded: if the other side waits for the held one (a lock), it cannot end now. */
    hold.other_finished = WaitForSingleObject(hold.other->done, TK_PROMPT_MS) == WAIT_OBJECT_0;
    hold.freed_by_other = before - totals().contexts;
    hold.held = true;
    if (hold.freed_by_other > 0) { /* from now on, the held side must not touch it */
        InterlockedExchange(&hold.after_free, 1);
        put_out_of_reach(true);
    }
}

static bool touches_state_word(const char *address)
{
    const char *word = (const char *)&hold.context->state;
    return address >= word && address < word + sizeof hold.context->state;
}

static bool touches_the_context(const char *address)
{
    const char *start = (const char *)hold.context;
    return address >= start && address < start + sizeof *hold.context;
}

static LONG CALLBACK on_touch(EXCEPTION_POINTERS *p)
{
    const EXCEPTION_RECORD *e = p->ExceptionRecord;
    if (e->ExceptionCode == EXCEPTION_SINGLE_STEP)
        return after_one_touch(p);
    if (e->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || e->NumberParameters < 2)
        return EXCEPTION_CONTINUE_SEARCH;
    const char *address = (const char *)e->ExceptionInformation[1];
    if (hold.first_page == NULL || address < hold.first_page ||
        address >= hold.first_page + hold.length)
        return EXCEPTION_CONTINUE_SEARCH; /* not the context's pages */
    if (InterlockedCompareExchange(&hold.after_free, 0, 0)) {
        const char *start = (const char *)hold.context;
        if (address >= start && address < start + sizeof *hold.context &&
            hold.touches_after_free++ == 0)
            print_message("why: %s freed the context while %s was held; then %s touched "
                          "it: a use after free (on a server, memory that may already hold "
                          "something else)\n", hold.other->name, hold.held_name,
                          hold.held_name);
        if (!pages_committed())
            return EXCEPTION_CONTINUE_SEARCH; /* the page heap reports it and stops */
        return let_one_touch_through(p);
    }
    if (!InterlockedCompareExchange(&hold.armed, 0, 0))
        return EXCEPTION_CONTINUE_SEARCH;
    if (GetCurrentThreadId() == hold.held_thread && touches_the_context(address)) {
        hold.state_touches += touches_state_word(address);
        if (++hold.touches == hold.hold_before) {
            run_the_other_side_now();
            return EXCEPTION_CONTINUE_EXECUTION; /* the touch happens now, unwatched */
        }
    }
    return let_one_touch_through(p);
}

/* ---- one order: a side held before its k-th touch, the other run whole meanwhile -------- */

typedef struct order {
    bool held;                /* false: the held side ended before that touch */
    bool other_finished;
    long freed;               /* how many times the context was freed */
    long freed_by_completion;
    bool completion_said_freed;
    int touches_after_free;
    int state_touches; /* the held side's touches of the state word before it was held */
} order;

/* Frees what the order left: the context, if nobody did, then the rest of the socket. */
static void clean_up(async_socket *s, long freed)
{
    if (freed > 0)
        s->in = NULL;
    else if (context_complete(s->in, 0)) /* it was marked disposed: this frees it */
        s->in = NULL;
    async_socket_dispose(s); /* the OUT context, the socket, and the IN context if still there */
}

static order play(bool hold_dispose, int k)
{
    async_socket *s = socket_with_a_receive_in_progress();
    io_context *in = s->in;
    long made = totals().contexts;
    side dispose, completion;
    start_side(&dispose, "dispose", false, in);
    start_side(&completion, "the completion", true, in);
    side *held = hold_dispose ? &dispose : &completion;
    side *other = hold_dispose ? &completion : &dispose;

    SYSTEM_INFO system;
    GetSystemInfo(&system);
    SIZE_T page = system.dwPageSize;
    char *first = (char *)((ULONG_PTR)in & ~(page - 1));
    char *last = (char *)((ULONG_PTR)((char *)in + sizeof *in - 1) & ~(page - 1));
    hold = (struct hold){.first_page = first, .length = (SIZE_T)(last - first) + page,
                         .context = in, .held_name = held->name,
                         .held_thread = held->thread_id, .hold_before = k,
                         .other = other};
    put_out_of_reach(true);
    InterlockedExchange(&hold.armed, 1);
    SetEvent(held->go);
    bool ended = WaitForSingleObject(held->done, 3 * TK_PROMPT_MS) == WAIT_OBJECT_0;
    InterlockedExchange(&hold.armed, 0);
    InterlockedExchange(&hold.after_free, 0);
    put_out_of_reach(false);
    if (!hold.held) { /* it ended first: the other side runs now, after it */
        long before = totals().contexts;
        SetEvent(other->go);
        WaitForSingleObject(other->done, TK_PROMPT_MS);
        hold.freed_by_other = before - totals().contexts;
    }
    end_side(&dispose);
    end_side(&completion);
    if (!ended)
        fail_msg("%s did not end within %d ms of being let go", held->name,
                 3 * TK_PROMPT_MS);

    order o = {.held = hold.held, .other_finished = hold.other_finished,
               .freed = made - totals().contexts,
               .completion_said_freed = completion.said_freed,
               .touches_after_free = hold.touches_after_free,
               .state_touches = hold.state_touches};
    /* The held side was stopped while the other ran, and the other ran after it when it
     * ended first: what each freed is known, unless the other could not end meanwhile. */
    long freed_by_held = o.freed - hold.freed_by_other;
    o.freed_by_completion = hold_dispose ? hold.freed_by_other : freed_by_held;
    hold.first_page = NULL;
    clean_up(s, o.freed);
    return o;
}

static const char *nth(int k)
{
    static char text[16];
    snprintf(text, sizeof text, "%d%s", k, k == 1 ? "st" : k == 2 ? "nd" : k == 3 ? "rd" : "th");
    return text;
}

/* The order played, in words, for the messages. */
static void describe(char *text, size_t size, bool hold_dispose, int k, const order *o)
{
    const char *held = hold_dispose ? "dispose" : "the completion";
    const char *other = hold_dispose ? "the completion" : "dispose";
    if (o->held)
        snprintf(text, size, "with %s held just before its %s touch of the context, and %s "
                 "run whole meanwhile", held, nth(k), other);
    else
        snprintf(text, size, "with %s run whole first, then %s", held, other);
}

static void expect_freed_once(bool hold_dispose, int k, const order *o)
{
    char when[160];
    describe(when, sizeof when, hold_dispose, k, o);
    const char *held = hold_dispose ? "dispose" : "the completion";
    const char *other = hold_dispose ? "the completion" : "dispose";
    if (o->touches_after_free > 0)
        fail_msg("%s: %s freed the context, and then %s touched it", when, other, held);
    if (o->freed == 0)
        fail_msg("%s, nobody freed the context: each side looked at the other's bit before "
                 "the other had changed it, and left the free to the other. A context nobody "
                 "frees is the leak again, from a race this time", when);
    if (o->freed > 1)
        fail_msg("%s, the context was freed %ld times: both sides saw the other's change and "
                 "both freed it", when, o->freed);
    if (!o->other_finished)
        return; /* both ran at once after all: which of them freed it is not known */
    if (o->completion_said_freed != (o->freed_by_completion == 1))
        fail_msg("%s: flags_complete returned %s, but it %s the context (it must return "
                 "true exactly when it freed it: its caller must not touch a freed context)",
                 when, o->completion_said_freed ? "true" : "false",
                 o->freed_by_completion == 1 ? "freed" : "did not free");
}

static void every_order_with_one_side_held(bool hold_dispose)
{
    static bool watching;
    if (!watching) {
        /* Ours must run before the page heap's, which it adds at its first block: the
         * last handler added first runs first. */
        free(malloc(1));
        assert_non_null(AddVectoredExceptionHandler(1, on_touch));
        watching = true;
    }
    registry_totals before = totals();
    const char *held = hold_dispose ? "dispose" : "the completion";
    int k = 1;
    int state_touches = 0; /* in the order where the held side ran whole first */
    for (; k <= MAX_TOUCHES; k++) {
        order o = play(hold_dispose, k);
        state_touches = o.state_touches;
        if (o.held && !o.other_finished)
            print_message("note: with %s held before its %s touch, the other side could not "
                          "end within %d ms (does it wait for a lock the held side has?)\n",
                          held, nth(k), TK_PROMPT_MS);
        if (!o.held)
            o.other_finished = true; /* the other side ran after it: nothing overlapped */
        expect_freed_once(hold_dispose, k, &o);
        if (!o.held)
            break;
    }
    if (k > MAX_TOUCHES)
        fail_msg("%s touched the context more than %d times", held, MAX_TOUCHES);
    if (state_touches == 0)
        fail_msg("%s never touched the context's state word: the two facts live there "
                 "(CONTEXT_IN_PROGRESS and CONTEXT_DISPOSED)", held);
    const char *other = hold_dispose ? "the completion" : "dispose";
    print_message("measured: %s touched the context %d time(s), %d of them its state word; "
                  "%d order(s) played (%s held just before each touch in turn while %s ran "
                  "whole, then %s run whole first): the context was freed exactly once in "
                  "each\n",
                  held, k - 1, state_touches, k, held, other, held);
    registry_totals after = totals();
    assert_int_equal(after.contexts, before.contexts);
    assert_int_equal(after.sockets, before.sockets);
}

/* ---- the tests ------------------------------------------------------------------------ */

static void on_one_thread_the_context_is_freed_once_in_every_order(void **state)
{
    (void)state;
    registry_totals before = totals();

    async_socket *s = async_socket_wrap(INVALID_SOCKET, 64, 0); /* nothing ever started */
    assert_non_null(s);
    flags_dispose(s->in);
    if (totals().contexts != before.contexts + 1) /* + 1: the socket's OUT context */
        fail_msg("expected flags_dispose to free a context with nothing in flight at once; "
                 "it did not free it, and nothing else ever will");
    s->in = NULL;
    async_socket_dispose(s);

    s = socket_with_a_receive_in_progress(); /* the completion first, then dispose */
    io_context *in = s->in;
    if (flags_complete(in, 0))
        fail_msg("flags_complete freed a context that was not disposed: the socket still "
                 "uses it");
    flags_dispose(in);
    if (totals().contexts != before.contexts + 1)
        fail_msg("expected flags_dispose to free a context whose operation had completed");
    s->in = NULL;
    async_socket_dispose(s);

    s = socket_with_a_receive_in_progress(); /* dispose first, then the completion */
    in = s->in;
    flags_dispose(in);
    if (totals().contexts != before.contexts + 2)
        fail_msg("flags_dispose freed a context whose operation was still in flight: the "
                 "kernel may still write into it");
    if (!flags_complete(in, ERROR_OPERATION_ABORTED))
        fail_msg("expected flags_complete to free a context that dispose had left to it, "
                 "and to return true");
    s->in = NULL;
    async_socket_dispose(s);
    assert_int_equal(totals().contexts, before.contexts);
    assert_int_equal(totals().sockets, before.sockets);
}

static void dispose_held_between_its_touches_the_context_is_freed_once(void **state)
{
    (void)state;
    every_order_with_one_side_held(true);
}

static void the_completion_held_between_its_touches_the_context_is_freed_once(void **state)
{
    (void)state;
    every_order_with_one_side_held(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(on_one_thread_the_context_is_freed_once_in_every_order),
        cmocka_unit_test(dispose_held_between_its_touches_the_context_is_freed_once),
        cmocka_unit_test(the_completion_held_between_its_touches_the_context_is_freed_once),
    };
    return CK_RUN_CHECKER("exercise 06.3", tests, test_port_and_winsock_up,
                          test_port_and_winsock_down);
}
