/* Exercise 01.2 (predict): what do idle clients cost?
 *
 * Clients connect to step01's server (in the checker's own process) and then send nothing
 * at all; the checker tries two numbers of them, different each run. Before you run
 * anything, write down what the process pays for them, as a formula of:
 *
 *     clients           how many idle clients are connected;
 *     header_stack_kib  the stack size written in the program's header, in KiB
 *                       (SizeOfStackReserve: 2048 when mingw-w64's linker made the program,
 *                       1024 when Microsoft's did).
 *
 * Replace each (-1), "not answered yet", with your formula (a C expression of those
 * names), then run
 *
 *     ./tutorial check 01.2
 *
 * The checker measures both, shows what it saw, and why. */
#ifndef PREDICTION_01_2_H
#define PREDICTION_01_2_H

/* How many threads the process gains while the idle clients are connected. */
#define PREDICTED_NEW_THREADS(clients) (-1)

/* How much address space, in KiB, is reserved for the stacks of those new threads, all of
 * them together. */
#define PREDICTED_STACK_RESERVED_KIB(clients, header_stack_kib) (-1)

#endif
