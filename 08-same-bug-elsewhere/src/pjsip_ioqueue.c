#include "pjsip_ioqueue.h"

#include "case_kit.h"

pj_key *pj_key_register(HANDLE port, SOCKET s)
{
    pj_key *key = kit_alloc(sizeof *key);
    if (key == NULL)
        return NULL;
    key->socket = s;
    key->references = 1; /* the registration's */
    if (CreateIoCompletionPort((HANDLE)s, port, (ULONG_PTR)key, 0) == NULL) {
        kit_free(key);
        return NULL;
    }
    return key;
}

static void key_release(pj_key *key)
{
    if (InterlockedDecrement(&key->references) == 0)
        kit_free(key);
}

DWORD pj_key_start_receive(pj_key *key)
{
    WSABUF chunk = {sizeof key->buffer, key->buffer};
    DWORD flags = 0;
    ZeroMemory(&key->receive, sizeof key->receive);
    InterlockedIncrement(&key->references); /* the packet's, released when it comes */
    if (kit_wsarecv(key->socket, &chunk, &flags, &key->receive) == 0)
        return 0;
    DWORD error = (DWORD)WSAGetLastError();
    if (error != WSA_IO_PENDING)
        key_release(key); /* failed at once: no packet will come to release it */
    return error;
}

/* snippet:begin unregister */
void pj_key_unregister(pj_key *key)
{
    /* Closing cancels the pending receive, but its packet is still on its way to the
     * port, and the kernel writes its status into key->receive when it completes. */
    closesocket(key->socket);
    key->socket = INVALID_SOCKET;
#ifdef WITH_FIX
    key_release(key); /* only the last reference, maybe a packet's, frees the key */
#else
    kit_free(key); /* the memory goes back now: the packet will point into it */
#endif
}
/* snippet:end unregister */

/* snippet:begin poll */
bool pj_ioqueue_poll(HANDLE port, DWORD timeout_ms, DWORD *error)
{
    OVERLAPPED *done;
    DWORD bytes;
    if (!kit_dequeue(port, timeout_ms, &done, &bytes, error))
        return false;
    pj_key *key = CONTAINING_RECORD(done, pj_key, receive);
    key->received += (long)bytes; /* a freed key: the page heap stops the program here */
    key_release(key);             /* the packet's reference */
    return true;
}
/* snippet:end poll */
