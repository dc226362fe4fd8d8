/* .NET's synchronous read on a file handle opened for overlapped I/O (RandomAccess, under
 * FileStream), reduced: the operation's state has two owners, the caller that waits on
 * its event and the thread pool that dequeues its packet, and is freed by the last one. */
#ifndef DOTNET_FILESTREAM_H
#define DOTNET_FILESTREAM_H

#include <windows.h>

#include <stdbool.h>

typedef struct fs_operation {
    OVERLAPPED overlapped; /* first: the packet's OVERLAPPED pointer is the operation */
    volatile LONG owners;  /* 2 at the start: the caller and the packet */
} fs_operation;

/* Reads up to size bytes at offset 0 of file (opened with FILE_FLAG_OVERLAPPED and bound
 * to a port), waiting for the result: 0 with *read set, or the error. */
DWORD fs_read_sync(HANDLE file, void *buffer, DWORD size, DWORD *read);

/* The thread pool's part: one packet from port within timeout_ms, and the packet's share
 * of its operation released. False when no packet came. */
bool fs_thread_pool_step(HANDLE port, DWORD timeout_ms);

#endif
