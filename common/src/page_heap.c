#include "tutorial/page_heap.h"

#include <windows.h>

#if defined(__GNUC__) /* the whole allocator: it needs the linker's --wrap */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The real allocator, reached through the linker's --wrap. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *block, size_t size);
void __real_free(void *block);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *block, size_t size);
void __wrap_free(void *block);

/* Address space only: pages are committed one block at a time, and a freed block's pages
 * go back to "reserved", so the cost of never reusing them is address space, not memory. */
#define ARENA_SIZE ((SIZE_T)64 << 30)
#define RECORDS_SIZE ((SIZE_T)1 << 30)
enum { PAGE = 4096, ALIGNMENT = 16, RECORDS_STEP = 1 << 16 };

/* What the page heap remembers of every block it handed out, in address order (the arena
 * is used from bottom to top, so appending keeps the order). */
typedef struct record {
    char *region;      /* the block's first page                       */
    char *start;       /* what malloc returned: region_end - rounded size */
    size_t size;
    size_t region_size;
    void *allocated_by; /* return addresses in the callers of malloc and free */
    void *freed_by;
} record;

static SRWLOCK lock = SRWLOCK_INIT;
static char *arena, *arena_next;
static record *records;
static size_t record_count, records_committed;
static volatile LONG blocks_handed_out;

static size_t round_up(size_t value, size_t unit)
{
    return (value + unit - 1) / unit * unit;
}

static bool in_arena(const void *address)
{
    return arena != NULL && (const char *)address >= arena &&
           (const char *)address < arena + ARENA_SIZE;
}

/* ---- the report ---------------------------------------------------------------------- */

/* "name.exe+0x1a2b": feed the offset to addr2line (or a debugger) to find the line. */
static void describe_code(const char *label, void *address)
{
    HMODULE module = NULL;
    char path[MAX_PATH] = "?";
    if (address != NULL &&
        GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                               GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                           address, &module)) {
        GetModuleFileNameA(module, path, sizeof path);
    }
    const char *name = strrchr(path, '\\') != NULL ? strrchr(path, '\\') + 1 : path;
    fprintf(stderr, "page heap:   %-13s %s+0x%llx\n", label, name,
            (unsigned long long)((uintptr_t)address - (uintptr_t)module));
}

/* The last record whose region starts at or below address (binary search). */
static const record *record_below(const char *address)
{
    size_t low = 0, high = record_count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (records[middle].region <= address)
            low = middle + 1;
        else
            high = middle;
    }
    return low > 0 ? &records[low - 1] : NULL;
}

static LONG WINAPI report_fault(EXCEPTION_POINTERS *exception)
{
    EXCEPTION_RECORD *e = exception->ExceptionRecord;
    if (e->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || e->NumberParameters < 2)
        return EXCEPTION_CONTINUE_SEARCH;
    const char *address = (const char *)e->ExceptionInformation[1];
    if (!in_arena(address))
        return EXCEPTION_CONTINUE_SEARCH; /* not ours: the normal crash */
    const char *access = e->ExceptionInformation[0] == 1 ? "write" : "read";
    const record *r = record_below(address); /* no lock: the process ends here */
    fprintf(stderr, "\npage heap: ACCESS VIOLATION: a %s at %p", access, (const void *)address);
    if (r == NULL) {
        fprintf(stderr, ", below every block\n");
    } else {
        const char *end = r->region + r->region_size;
        if (address < end && r->freed_by != NULL)
            fprintf(stderr, ", %lld bytes into a %zu-byte block that was FREED (use after free)\n",
                    (long long)(address - r->start), r->size);
        else if (address >= end)
            fprintf(stderr, ", %lld bytes past the end of a %zu-byte block (overrun)\n",
                    (long long)(address - (r->start + r->size)), r->size);
        else
            fprintf(stderr, " inside a live %zu-byte block\n", r->size);
        describe_code("allocated by", r->allocated_by);
        if (r->freed_by != NULL)
            describe_code("freed by", r->freed_by);
    }
    describe_code("touched by", e->ExceptionAddress);
    fprintf(stderr, "page heap: the process stops here (exit status %d); the test failed\n",
            PAGE_HEAP_FAULT_EXIT);
    fflush(stderr);
    TerminateProcess(GetCurrentProcess(), PAGE_HEAP_FAULT_EXIT);
    return EXCEPTION_CONTINUE_SEARCH;
}

static void die(const char *why, const void *block, void *caller)
{
    fprintf(stderr, "\npage heap: %s (%p)\n", why, block);
    describe_code("called by", caller);
    fflush(stderr);
    TerminateProcess(GetCurrentProcess(), PAGE_HEAP_FAULT_EXIT);
}

/* ---- the allocator (the caller holds the lock) ------------------------------------------ */

static bool start_arena(void)
{
    if (arena != NULL)
        return true;
    arena = VirtualAlloc(NULL, ARENA_SIZE, MEM_RESERVE, PAGE_NOACCESS);
    records = VirtualAlloc(NULL, RECORDS_SIZE, MEM_RESERVE, PAGE_NOACCESS);
    if (arena == NULL || records == NULL)
        return false;
    arena_next = arena;
    AddVectoredExceptionHandler(1, report_fault);
    return true;
}

static record *new_record(void)
{
    size_t needed = (record_count + 1) * sizeof(record);
    if (needed > records_committed) {
        if (records_committed + RECORDS_STEP > RECORDS_SIZE ||
            VirtualAlloc((char *)records + records_committed, RECORDS_STEP, MEM_COMMIT,
                         PAGE_READWRITE) == NULL)
            return NULL;
        records_committed += RECORDS_STEP;
    }
    return &records[record_count++];
}

static void *allocate(size_t size, void *caller)
{
    size_t rounded = round_up(size == 0 ? 1 : size, ALIGNMENT);
    size_t region_size = round_up(rounded, PAGE);
    void *block = NULL;
    AcquireSRWLockExclusive(&lock);
    if (size < ARENA_SIZE && start_arena() &&
        arena_next + region_size + PAGE <= arena + ARENA_SIZE) {
        record *r = new_record();
        if (r != NULL && VirtualAlloc(arena_next, region_size, MEM_COMMIT, PAGE_READWRITE)) {
            *r = (record){arena_next, arena_next + region_size - rounded, size, region_size,
                          caller, NULL};
            block = r->start;
            arena_next += region_size + PAGE; /* the page after stays reserved: the guard */
        } else if (r != NULL) {
            record_count--;
        }
    }
    ReleaseSRWLockExclusive(&lock);
    if (block != NULL)
        InterlockedIncrement(&blocks_handed_out);
    return block; /* fresh committed pages read as zeros */
}

/* The record of a block the page heap handed out, or NULL. */
static record *record_of(const void *block)
{
    record *r = (record *)record_below(block);
    return r != NULL && r->start == block ? r : NULL;
}

static size_t release(void *block, void *caller)
{
    AcquireSRWLockExclusive(&lock);
    record *r = record_of(block);
    if (r == NULL || r->freed_by != NULL) {
        ReleaseSRWLockExclusive(&lock);
        die(r == NULL ? "free of a pointer malloc never returned" : "DOUBLE FREE", block,
            caller);
        return 0;
    }
    r->freed_by = caller;
    VirtualFree(r->region, r->region_size, MEM_DECOMMIT); /* now every touch faults */
    size_t size = r->size;
    ReleaseSRWLockExclusive(&lock);
    return size;
}

/* ---- the wrapped functions ------------------------------------------------------------ */

void *__wrap_malloc(size_t size)
{
    return allocate(size, __builtin_return_address(0));
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return allocate(count * size, __builtin_return_address(0));
}

void __wrap_free(void *block)
{
    if (block == NULL)
        return;
    if (!in_arena(block)) {
        __real_free(block); /* the C runtime's own memory */
        return;
    }
    release(block, __builtin_return_address(0));
}

void *__wrap_realloc(void *block, size_t size)
{
    void *caller = __builtin_return_address(0);
    if (block == NULL)
        return allocate(size, caller);
    if (!in_arena(block))
        return __real_realloc(block, size);
    if (size == 0) {
        release(block, caller);
        return NULL;
    }
    AcquireSRWLockShared(&lock);
    const record *r = record_of(block);
    size_t old_size = r != NULL && r->freed_by == NULL ? r->size : 0;
    ReleaseSRWLockShared(&lock);
    void *moved = allocate(size, caller); /* always moves: a stale pointer then faults */
    if (moved == NULL)
        return NULL;
    memcpy(moved, block, old_size < size ? old_size : size);
    release(block, caller);
    return moved;
}

long page_heap_blocks(void)
{
    return InterlockedCompareExchange(&blocks_handed_out, 0, 0);
}

#else /* MSVC: no --wrap, no page heap */

long page_heap_blocks(void)
{
    return 0;
}

#endif
