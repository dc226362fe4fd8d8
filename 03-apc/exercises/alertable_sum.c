/* Exercise 03.3 (extend): sum_file_alertably, as alertable_sum.h describes it. The step's
 * apc_copy_file (03-apc/src/apc_file.c) reads a file with ReadFileEx one chunk at a time;
 * here two reads stay in flight, each with its own OVERLAPPED and buffer. Write it here:
 * small helpers, and a comment wherever a lifetime rule applies (which routine must run
 * before this memory may go). */
#include "alertable_sum.h"

DWORD sum_file_alertably(const char *path, ULONGLONG *sum)
{
    (void)path;
    *sum = 0;
    return ERROR_CALL_NOT_IMPLEMENTED;
}
