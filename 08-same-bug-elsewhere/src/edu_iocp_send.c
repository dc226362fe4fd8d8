#include "edu_iocp_send.h"

#include <string.h>

#include "case_kit.h"

edu_client *edu_client_new(HANDLE port, SOCKET s)
{
    edu_client *client = kit_alloc(sizeof *client);
    if (client == NULL)
        return NULL;
    if (CreateIoCompletionPort((HANDLE)s, port, (ULONG_PTR)client, 0) == NULL) {
        kit_free(client);
        return NULL;
    }
    client->socket = s;
    InitializeCriticalSection(&client->lock);
    return client;
}

static void pop_head(edu_client *client)
{
    edu_send *head = client->head;
    client->head = head->next;
    if (client->head == NULL)
        client->tail = NULL;
    client->queued--;
    kit_free(head);
}

/* snippet:begin send_io */
/* Sends the head of the queue; the caller holds the lock. */
static bool send_io(edu_client *client)
{
    while (client->head != NULL) {
        edu_send *head = client->head;
        WSABUF chunk = {head->size, head->bytes};
        if (kit_wsasend(client->socket, &chunk, &head->overlapped) == 0 ||
            WSAGetLastError() == WSA_IO_PENDING)
            return true; /* its packet will come, and edu_send_completed moves on */
        /* Failed at once: no packet will come for this send. */
#ifdef WITH_FIX
        pop_head(client); /* do what its packet would have done: free it, try the next */
#else
        return false; /* the head stays: never freed, and nothing behind it is ever sent */
#endif
    }
    return true;
}
/* snippet:end send_io */

bool edu_send_msg(edu_client *client, const char *data, DWORD size)
{
    edu_send *message = kit_alloc(sizeof *message);
    if (message == NULL || size > sizeof message->bytes) {
        kit_free(message);
        return false;
    }
    memcpy(message->bytes, data, size);
    message->size = size;
    EnterCriticalSection(&client->lock);
    if (client->tail != NULL)
        client->tail->next = message;
    else
        client->head = message;
    client->tail = message;
    client->queued++;
    if (client->queued == 1)
        send_io(client); /* its answer is not looked at */
    LeaveCriticalSection(&client->lock);
    return true;
}

void edu_send_completed(edu_client *client)
{
    EnterCriticalSection(&client->lock);
    pop_head(client);
    if (client->head != NULL)
        send_io(client);
    LeaveCriticalSection(&client->lock);
}

void edu_client_close(edu_client *client)
{
    closesocket(client->socket);
    DeleteCriticalSection(&client->lock);
    kit_free(client);
}
