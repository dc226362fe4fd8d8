/* The page-heap test allocator: the idea of Application Verifier's "full page heap" in a
 * few hundred lines. A program linked with tutorial_page_heap has every malloc, calloc,
 * realloc and free of its own code (the step's library, the test, the test kit) served
 * here: when it starts, the page heap points those entries of the program's import table
 * at itself, the way the import layer (tutorial/faults.h) reaches in, so it works with any
 * linker and stacks under the layer's own stand-ins.
 * - every block sits on pages of its own, its LAST byte on the last byte of its last page,
 *   with an inaccessible guard page after it, so running one byte off its end faults at
 *   once (a block whose size is a multiple of its type's alignment keeps that alignment);
 * - TUTORIAL_PAGE_HEAP=align16 starts blocks on 16-byte boundaries instead (up to 15
 *   bytes after the end then go unnoticed); TUTORIAL_PAGE_HEAP=underrun puts the guard
 *   page BEFORE each block, which starts on its page, so running off its start faults;
 * - a freed block's pages are decommitted and never handed out again, so touching it after
 *   free faults at once, instead of reading whatever the next user left there;
 * - a buffer or OVERLAPPED handed to WSARecv, WSASend or AcceptEx, or handed back by a
 *   packet, that lies in freed memory is reported before Windows touches it (under Wine,
 *   Winsock writing into freed pages fails the call with WSAEFAULT, or completes it with
 *   ERROR_NOACCESS, and a freed OVERLAPPED ends the process without a word);
 * - freeing a block that holds the OVERLAPPED or the buffer of an operation Windows still
 *   holds (started, not finished) is reported at the free;
 * - a fault in those pages, on any thread, prints what was touched (which block, how far
 *   in, where it was allocated and freed, which instruction touched it) and ends the
 *   process with status 3, which fails the test.
 * Memory the C runtime allocates for itself is not ours and goes to the real functions.
 * Under MSVC the tests run without it; page_heap_blocks() then stays 0. */
#ifndef TUTORIAL_PAGE_HEAP_H
#define TUTORIAL_PAGE_HEAP_H

/* How many blocks the page heap has handed out so far: a test asserts it is above 0 to
 * show that it really runs under the page heap. */
long page_heap_blocks(void);

/* Where a block sits on its pages, for the blocks allocated from now on. */
typedef enum {
    PAGE_HEAP_EXACT,    /* ends on the last byte before the guard page (the default) */
    PAGE_HEAP_ALIGN16,  /* starts on a 16-byte boundary, ends up to 15 bytes short   */
    PAGE_HEAP_UNDERRUN  /* starts on the first byte after a guard page               */
} page_heap_layout;
void page_heap_set_layout(page_heap_layout layout);

/* The exit status of a process the page heap stopped. */
enum { PAGE_HEAP_FAULT_EXIT = 3 };

#endif
