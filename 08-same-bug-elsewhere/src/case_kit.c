#include "case_kit.h"

#include <stdlib.h>

#include "tutorial/fault_plan.h"

static volatile LONG live_blocks;

void *kit_alloc(size_t size)
{
    void *block = calloc(1, size);
    if (block != NULL)
        InterlockedIncrement(&live_blocks);
    return block;
}

void kit_free(void *block)
{
    if (block == NULL)
        return;
    InterlockedDecrement(&live_blocks);
    free(block);
}

long kit_live(void)
{
    return InterlockedCompareExchange(&live_blocks, 0, 0);
}

HANDLE kit_port(HANDLE handle, ULONG_PTR key)
{
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (port != NULL && handle != NULL && CreateIoCompletionPort(handle, port, key, 0) == NULL) {
        CloseHandle(port);
        return NULL;
    }
    return port;
}

bool kit_dequeue(HANDLE port, DWORD timeout_ms, OVERLAPPED **overlapped, DWORD *bytes,
                 DWORD *error)
{
    ULONG_PTR key = 0;
    *overlapped = NULL;
    *bytes = 0;
    BOOL ok = GetQueuedCompletionStatus(port, bytes, &key, overlapped, timeout_ms);
    *error = ok ? 0 : GetLastError();
    return *overlapped != NULL;
}

static int planned(const char *operation, fault_outcome *outcome)
{
    *outcome = fault_plan_take(operation);
    if (outcome->kind != FAULT_FAIL)
        return 0;
    WSASetLastError((int)outcome->value);
    return SOCKET_ERROR;
}

int kit_wsarecv(SOCKET s, WSABUF *buffer, DWORD *flags, OVERLAPPED *overlapped)
{
    fault_outcome outcome;
    if (planned("receive", &outcome) == SOCKET_ERROR)
        return SOCKET_ERROR;
    return WSARecv(s, buffer, 1, NULL, flags, overlapped, NULL);
}

int kit_wsasend(SOCKET s, WSABUF *buffer, OVERLAPPED *overlapped)
{
    fault_outcome outcome;
    if (planned("send", &outcome) == SOCKET_ERROR)
        return SOCKET_ERROR;
    return WSASend(s, buffer, 1, NULL, 0, overlapped, NULL);
}
