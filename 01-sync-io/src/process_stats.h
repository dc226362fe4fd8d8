/* What a thread per client costs the process: its threads and its private memory. */
#ifndef STEP01_PROCESS_STATS_H
#define STEP01_PROCESS_STATS_H

#include <windows.h>

typedef struct process_stats {
    unsigned long threads; /* threads of this process (a Toolhelp snapshot)             */
    ULONGLONG reserved;    /* private address space: reserved or committed, in bytes    */
    ULONGLONG committed;   /* the committed part of it (backed by RAM or the page file) */
} process_stats;

/* A snapshot of the calling process. Thread stacks are private memory: each thread
 * reserves its full stack size and commits only the pages it touches. */
process_stats process_stats_now(void);

/* Bytes as MiB, for printing. */
double process_stats_mib(ULONGLONG bytes);

#endif
