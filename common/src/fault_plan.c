#include "tutorial/fault_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutorial/errors.h"

enum { MAX_RULES = 16, MAX_OPERATIONS = 16, NAME_SIZE = 16 };

typedef enum { PICK_NTH, PICK_FROM_NTH, PICK_EVERY_KTH } pick;

typedef struct rule {
    char operation[NAME_SIZE];
    pick pick;
    long n;
    fault_outcome outcome;
} rule;

typedef struct counter {
    char operation[NAME_SIZE];
    volatile LONG calls, fired;
} counter;

typedef struct plan {
    rule rules[MAX_RULES];
    int rule_count;
    counter counters[MAX_OPERATIONS];
    int counter_count;
} plan;

static plan current;
static SRWLOCK current_lock = SRWLOCK_INIT;

/* ---- parsing ------------------------------------------------------------------------- */

static bool fail(char *why, size_t size, const char *text, const char *problem)
{
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
    if (parse_number(text, &number) && number > 0) {
        *code = (DWORD)number;
        return true;
    }
    return error_code_of(text, code);
}

static bool parse_selector(const char *text, rule *r)
{
    size_t length = strlen(text);
    if (strcmp(text, "#*") == 0) {
        r->pick = PICK_FROM_NTH;
        r->n = 1;
        return true;
    }
    char digits[16];
    if (length < 2 || length - 1 >= sizeof digits)
        return false;
    memcpy(digits, text + 1, length); /* with the NUL */
    if (text[0] == '%') {
        r->pick = PICK_EVERY_KTH;
    } else if (text[0] == '#' && digits[length - 2] == '+') {
        r->pick = PICK_FROM_NTH;
        digits[length - 2] = '\0';
    } else if (text[0] == '#') {
        r->pick = PICK_NTH;
    } else {
        return false;
    }
    return parse_number(digits, &r->n) && r->n >= 1;
}

static bool word_is(const char *text, size_t length, const char *word)
{
    return strlen(word) == length && strncmp(text, word, length) == 0;
}

static bool parse_outcome(const char *text, fault_outcome *outcome)
{
    const char *colon = strchr(text, ':');
    if (colon == NULL) {
        if (strcmp(text, "now") == 0)
            *outcome = (fault_outcome){FAULT_NOW, 0};
        else if (strcmp(text, "pending") == 0)
            *outcome = (fault_outcome){FAULT_PENDING, 0};
        else if (strcmp(text, "eof") == 0)
            *outcome = (fault_outcome){FAULT_EOF, 0};
        else
            return false;
        return true;
    }
    size_t word = (size_t)(colon - text);
    long ms = 0;
    if (word_is(text, word, "fail") || word_is(text, word, "error")) {
        outcome->kind = FAULT_FAIL;
        return parse_error(colon + 1, &outcome->value);
    }
    if (word_is(text, word, "delay") && parse_number(colon + 1, &ms) && ms <= 60000) {
        *outcome = (fault_outcome){FAULT_DELAY, (DWORD)ms};
        return true;
    }
    return false;
}

/* One rule, "OPERATION SELECTOR = OUTCOME", written into r. */
static bool parse_rule(char *text, rule *r, char *why, size_t why_size)
{
    char *equals = strchr(text, '=');
    if (equals == NULL)
        return fail(why, why_size, text, "a rule is OPERATION#N=OUTCOME");
    *equals = '\0';
    size_t name = strcspn(text, "#%");
    if (name == 0 || name >= NAME_SIZE || text[name] == '\0')
        return fail(why, why_size, text, "an operation, then #N, #N+, #* or %K");
    if (!parse_selector(text + name, r))
        return fail(why, why_size, text + name, "not #N, #N+, #* or %K (N, K from 1)");
    memcpy(r->operation, text, name);
    r->operation[name] = '\0';
    if (!parse_outcome(equals + 1, &r->outcome))
        return fail(why, why_size, equals + 1,
                    "not now, pending, eof, fail:ERROR, error:ERROR or delay:MS");
    return true;
}

static bool parse_plan(const char *text, plan *p, char *why, size_t why_size)
{
    char copy[512];
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
    if (ok)
        current = parsed;
    ReleaseSRWLockExclusive(&current_lock);
    return ok;
}

/* ---- taking outcomes ----------------------------------------------------------------- */

/* The counter of operation; created on first use. The caller holds current_lock shared, so
 * creation takes a second, exclusive pass. */
static counter *find_counter(const char *operation)
{
    for (int i = 0; i < current.counter_count; i++) {
        if (strcmp(current.counters[i].operation, operation) == 0)
            return &current.counters[i];
    }
    return NULL;
}

static counter *counter_of(const char *operation)
{
    AcquireSRWLockShared(&current_lock);
    counter *c = find_counter(operation);
    ReleaseSRWLockShared(&current_lock);
    if (c != NULL)
        return c;
    AcquireSRWLockExclusive(&current_lock);
    c = find_counter(operation);
    if (c == NULL && current.counter_count < MAX_OPERATIONS && strlen(operation) < NAME_SIZE) {
        c = &current.counters[current.counter_count++];
        strcpy(c->operation, operation);
    }
    ReleaseSRWLockExclusive(&current_lock);
    return c;
}

static bool picks(const rule *r, long call)
{
    switch (r->pick) {
    case PICK_NTH: return call == r->n;
    case PICK_FROM_NTH: return call >= r->n;
    case PICK_EVERY_KTH: return call % r->n == 0;
    }
    return false;
}

fault_outcome fault_plan_take(const char *operation)
{
    fault_outcome outcome = {FAULT_REAL, 0};
    counter *c = counter_of(operation);
    if (c == NULL)
        return outcome;
    long call = InterlockedIncrement(&c->calls);
    AcquireSRWLockShared(&current_lock);
    for (int i = 0; i < current.rule_count; i++) {
        const rule *r = &current.rules[i];
        if (strcmp(r->operation, operation) == 0 && picks(r, call)) {
            outcome = r->outcome;
            break;
        }
    }
    ReleaseSRWLockShared(&current_lock);
    if (outcome.kind != FAULT_REAL)
        InterlockedIncrement(&c->fired);
    return outcome;
}

long fault_plan_calls(const char *operation)
{
    counter *c = counter_of(operation);
    return c != NULL ? InterlockedCompareExchange(&c->calls, 0, 0) : 0;
}

long fault_plan_fired(const char *operation)
{
    counter *c = counter_of(operation);
    return c != NULL ? InterlockedCompareExchange(&c->fired, 0, 0) : 0;
}

void fault_plan_pause(fault_outcome outcome)
{
    if (outcome.kind == FAULT_DELAY)
        Sleep(outcome.value); /* test-only: widens a race window on purpose */
}
