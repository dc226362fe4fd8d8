/* The page-heap test allocator: the idea of Application Verifier's "full page heap" in a
 * few hundred lines. A test program linked with tutorial_page_heap has every malloc,
 * calloc, realloc and free of its own code (the step's library, the test, the test kit)
 * served here, through the linker's --wrap:
 * - every block sits at the end of its own pages, with an inaccessible guard page after it,
 *   so running off its end faults at once;
 * - a freed block's pages are decommitted and never handed out again, so touching it after
 *   free faults at once, instead of reading whatever the next user left there;
 * - a fault in those pages, on any thread, prints what was touched (which block, how far
 *   in, where it was allocated and freed, which instruction touched it) and ends the
 *   process with status 3, which fails the test.
 * Memory the C runtime allocates for itself is not ours and goes to the real functions.
 * Under MSVC (no --wrap) the tests run without it; page_heap_blocks() then stays 0. */
#ifndef TUTORIAL_PAGE_HEAP_H
#define TUTORIAL_PAGE_HEAP_H

/* How many blocks the page heap has handed out so far: a test asserts it is above 0 to
 * show that it really runs under the page heap. */
long page_heap_blocks(void);

/* The exit status of a process the page heap stopped. */
enum { PAGE_HEAP_FAULT_EXIT = 3 };

#endif
