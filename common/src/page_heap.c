#include "tutorial/page_heap.h"

#include <windows.h>

#if defined(__GNUC__) /* the whole allocator: it installs itself from a constructor */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tutorial/faults.h"
#include "tutorial/import_hook.h"

/* The C runtime's allocator: what the import table held before the page heap. */
typedef void *(*malloc_function)(size_t);
typedef void *(*calloc_function)(size_t, size_t);
typedef void *(*realloc_function)(void *, size_t);
typedef void (*free_function)(void *);
static malloc_function real_malloc;
static calloc_function real_calloc;
static realloc_function real_realloc;
static free_function real_free;

/* Address space only: pages are committed one block at a time, and a freed block's pages
 * go back to "reserved", so the cost of never reusing them is address space, not memory.
 * Between two blocks there is always one reserved page: the guard after the one below,
 * and the guard before the one above. */
#define ARENA_SIZE ((SIZE_T)64 << 30)
#define RECORDS_SIZE ((SIZE_T)1 << 30)
enum { PAGE = 4096, ALIGNMENT = 16, RECORDS_STEP = 1 << 16 };

/* What the page heap remembers of every block it handed out, in address order (the arena
 * is used from bottom to top, so appending keeps the order). */
typedef struct record {
    char *region;      /* the block's first page                        */
    char *start;       /* what malloc returned, somewhere in the region */
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
static volatile LONG layout = PAGE_HEAP_EXACT;

static size_t round_up(size_t value, size_t unit)
{
    return (value + unit - 1) / unit * unit;
}

static bool in_arena(const void *address)
{
    return arena != NULL && (const char *)address >= arena &&
           (const char *)address < arena + ARENA_SIZE;
}

void page_heap_set_layout(page_heap_layout chosen)
{
    InterlockedExchange(&layout, (LONG)chosen);
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

/* The index of the last record whose region starts at or below address (binary search),
 * or record_count when there is none. */
static size_t index_below(const char *address)
{
    size_t low = 0, high = record_count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (records[middle].region <= address)
            low = middle + 1;
        else
            high = middle;
    }
    return low > 0 ? low - 1 : record_count;
}

static const record *record_below(const char *address)
{
    size_t i = index_below(address);
    return i < record_count ? &records[i] : NULL;
}

/* "1 byte" or "N bytes". */
static const char *bytes(long long n)
{
    return n == 1 || n == -1 ? "byte" : "bytes";
}

static bool starts_its_region(const record *r)
{
    return r->start == r->region;
}

/* What an address that lies in a guard page is next to: the end of the block below it or
 * the start of the block above it, whichever is in the layout that guards it. */
static void describe_guard(const char *address, const record *below, const record *above)
{
    bool overrun = below != NULL && !starts_its_region(below);
    bool underrun = above != NULL && starts_its_region(above);
    if (overrun && underrun)
        overrun = address - (below->region + below->region_size) <= above->region - address;
    if (overrun) {
        long long past = (long long)(address - (below->start + below->size)) + 1;
        fprintf(stderr, ", %lld %s past the end of a %zu-byte block (overrun)\n", past,
                bytes(past), below->size);
        describe_code("allocated by", below->allocated_by);
    } else if (underrun) {
        long long before = (long long)(above->start - address);
        fprintf(stderr, ", %lld %s before the start of a %zu-byte block (underrun)\n", before,
                bytes(before), above->size);
        describe_code("allocated by", above->allocated_by);
    } else {
        fprintf(stderr, ", in a guard page\n");
    }
}

static void describe_address(const char *address)
{
    size_t i = index_below(address);
    const record *r = i < record_count ? &records[i] : NULL;
    const record *above = i < record_count ? (i + 1 < record_count ? &records[i + 1] : NULL)
                                           : (record_count > 0 ? &records[0] : NULL);
    if (r != NULL && address < r->region + r->region_size) {
        long long into = (long long)(address - r->start);
        if (r->freed_by != NULL)
            fprintf(stderr, ", %lld %s into a %zu-byte block that was FREED (use after free)\n",
                    into, bytes(into), r->size);
        else if (into < 0)
            fprintf(stderr, ", %lld %s before the start of a %zu-byte block (underrun)\n",
                    -into, bytes(into), r->size);
        else if ((size_t)into >= r->size)
            fprintf(stderr, ", %lld %s past the end of a %zu-byte block (overrun)\n",
                    into - (long long)r->size + 1, bytes(into - (long long)r->size + 1), r->size);
        else
            fprintf(stderr, " inside a live %zu-byte block\n", r->size);
        describe_code("allocated by", r->allocated_by);
        if (r->freed_by != NULL)
            describe_code("freed by", r->freed_by);
        return;
    }
    describe_guard(address, r, above);
}

static void stop_the_process(void)
{
    fprintf(stderr, "page heap: the process stops here (exit status %d); the test failed\n",
            PAGE_HEAP_FAULT_EXIT);
    fflush(stderr);
    TerminateProcess(GetCurrentProcess(), PAGE_HEAP_FAULT_EXIT);
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
    fprintf(stderr, "\npage heap: ACCESS VIOLATION: a %s at %p", access, (const void *)address);
    describe_address(address); /* no lock: the process ends here */
    describe_code("touched by", e->ExceptionAddress);
    stop_the_process();
    return EXCEPTION_CONTINUE_SEARCH;
}

static void die(const char *why, const void *block, void *caller)
{
    fprintf(stderr, "\npage heap: %s (%p)\n", why, block);
    describe_code("called by", caller);
    stop_the_process();
}

/* ---- memory handed to Windows (the import layer calls these) ------------------------- */

/* Stops the process when [address, address + length) touches a freed block or a guard
 * page: Windows would fail the call (WSAEFAULT) or the packet (ERROR_NOACCESS), or, for an
 * OVERLAPPED, end the process, and the test would read either as a network error. */
static void check_handed_to_windows(const void *address, size_t length, const char *what,
                                    void *caller)
{
    const char *first = address, *last = first + (length > 0 ? length - 1 : 0);
    if (!in_arena(first) && !in_arena(last))
        return;
    AcquireSRWLockShared(&lock);
    const record *r = record_below(first);
    bool freed = r != NULL && r->freed_by != NULL && first < r->region + r->region_size;
    bool outside = r == NULL || first < r->start || last >= r->start + r->size;
    ReleaseSRWLockShared(&lock);
    if (!freed && !outside)
        return;
    fprintf(stderr, "\npage heap: %s: %s at %p (%zu bytes)", freed ? "USE AFTER FREE" : "OUT OF BOUNDS",
            what, address, length);
    describe_address(!freed && r != NULL && first >= r->start ? last : first);
    describe_code("handed by", caller);
    stop_the_process();
}

/* For faults_in_flight: memory outside a block being freed may be read when it is not
 * ours, or lies in a live block. */
static bool is_readable(const void *address)
{
    if (!in_arena(address))
        return true;
    AcquireSRWLockShared(&lock);
    const record *r = record_below(address);
    bool live = r != NULL && r->freed_by == NULL && (const char *)address >= r->start &&
                (const char *)address < r->start + r->size;
    ReleaseSRWLockShared(&lock);
    return live;
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
    arena_next = arena + PAGE; /* a guard page before the first block too */
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

/* Where the block of size bytes starts in its region, by the layout. */
static char *block_start(char *region, size_t region_size, size_t size)
{
    switch ((page_heap_layout)InterlockedCompareExchange(&layout, 0, 0)) {
    case PAGE_HEAP_UNDERRUN: return region;
    case PAGE_HEAP_ALIGN16: return region + region_size - round_up(size, ALIGNMENT);
    case PAGE_HEAP_EXACT: break;
    }
    return region + region_size - size;
}

static void *allocate(size_t size, void *caller)
{
    size_t placed = size == 0 ? 1 : size; /* malloc(0) still returns a block of its own */
    size_t region_size = round_up(round_up(placed, ALIGNMENT), PAGE);
    void *block = NULL;
    AcquireSRWLockExclusive(&lock);
    if (size < ARENA_SIZE && start_arena() &&
        arena_next + region_size + PAGE <= arena + ARENA_SIZE) {
        record *r = new_record();
        if (r != NULL && VirtualAlloc(arena_next, region_size, MEM_COMMIT, PAGE_READWRITE)) {
            *r = (record){arena_next, block_start(arena_next, region_size, placed), size,
                          region_size, caller, NULL};
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

/* Freeing memory Windows may still write into: the free happens too early. */
static void refuse_a_free_in_flight(void *block, size_t size, void *caller)
{
    const OVERLAPPED *overlapped = NULL;
    const char *what = NULL;
    if (!faults_in_flight(block, size, is_readable, &overlapped, &what))
        return;
    fprintf(stderr,
            "\npage heap: FREE OF MEMORY IN USE BY PENDING I/O: the %zu-byte block %p holds %s "
            "of an operation Windows still holds (OVERLAPPED %p, not yet complete)\n",
            size, block, what, (const void *)overlapped);
    describe_code("freed by", caller);
    stop_the_process();
}

static size_t release(void *block, void *caller)
{
    AcquireSRWLockShared(&lock);
    record *r = record_of(block);
    bool known = r != NULL && r->freed_by == NULL;
    size_t size = known ? r->size : 0;
    ReleaseSRWLockShared(&lock);
    if (known)
        refuse_a_free_in_flight(block, size, caller);
    AcquireSRWLockExclusive(&lock);
    r = record_of(block);
    if (r == NULL || r->freed_by != NULL) {
        ReleaseSRWLockExclusive(&lock);
        die(r == NULL ? "free of a pointer malloc never returned" : "DOUBLE FREE", block,
            caller);
        return 0;
    }
    r->freed_by = caller;
    VirtualFree(r->region, r->region_size, MEM_DECOMMIT); /* now every touch faults */
    ReleaseSRWLockExclusive(&lock);
    return size;
}

/* ---- the stand-ins the import table points at ----------------------------------------- */

static void *page_heap_malloc(size_t size)
{
    return allocate(size, faults_allocation_caller(__builtin_return_address(0)));
}

static void *page_heap_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return allocate(count * size, faults_allocation_caller(__builtin_return_address(0)));
}

static void page_heap_free(void *block)
{
    if (block == NULL)
        return;
    if (!in_arena(block)) {
        real_free(block); /* the C runtime's own memory */
        return;
    }
    release(block, __builtin_return_address(0));
}

static void *page_heap_realloc(void *block, size_t size)
{
    void *caller = faults_allocation_caller(__builtin_return_address(0));
    if (block == NULL)
        return allocate(size, caller);
    if (!in_arena(block))
        return real_realloc(block, size);
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

static page_heap_layout layout_asked_for(void)
{
    char value[32] = "";
    GetEnvironmentVariableA("TUTORIAL_PAGE_HEAP", value, sizeof value);
    if (strcmp(value, "underrun") == 0)
        return PAGE_HEAP_UNDERRUN;
    if (strcmp(value, "align16") == 0)
        return PAGE_HEAP_ALIGN16;
    return PAGE_HEAP_EXACT;
}

/* Before main: the allocator first, so that the import layer's own stand-ins for malloc
 * (tutorial/faults.h), installed next, call these. */
__attribute__((constructor)) static void page_heap_install(void)
{
    page_heap_set_layout(layout_asked_for());
    real_malloc = (malloc_function)tk_hook_import("malloc", (tk_function)page_heap_malloc);
    real_calloc = (calloc_function)tk_hook_import("calloc", (tk_function)page_heap_calloc);
    real_realloc = (realloc_function)tk_hook_import("realloc", (tk_function)page_heap_realloc);
    real_free = (free_function)tk_hook_import("free", (tk_function)page_heap_free);
    faults_watch_memory(check_handed_to_windows);
}

long page_heap_blocks(void)
{
    return InterlockedCompareExchange(&blocks_handed_out, 0, 0);
}

#else /* MSVC: no page heap */

long page_heap_blocks(void)
{
    return 0;
}

void page_heap_set_layout(page_heap_layout layout)
{
    (void)layout;
}

#endif
