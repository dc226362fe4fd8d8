/* Exercise 01.2 (predict): what do idle clients cost?
 *
 * Fifty clients connect to step01's server (in the checker's own process) and then send
 * nothing at all. Before you run anything, write down what the process pays for them:
 * replace each -1 ("not answered yet") with your prediction, then run
 *
 *     ./tutorial check 01.2
 *
 * The checker measures both numbers and tells you what it saw. */
#ifndef PREDICTION_01_2_H
#define PREDICTION_01_2_H

/* How many threads the process gains while the 50 idle clients are connected. */
#define PREDICTED_NEW_THREADS -1

/* How much address space, in whole MiB, is reserved for the stacks of those new threads,
 * all of them together. (This tutorial's programs are linked by mingw-w64.) */
#define PREDICTED_STACK_RESERVED_MIB -1

#endif
