#include "twisted_iocpsupport.h"

#include "case_kit.h"

static tw_overlapped *make_overlapped(void *callback_object)
{
    tw_overlapped *ov = kit_alloc(sizeof *ov);
    ov->callback_object = callback_object;
    return ov;
}

/* snippet:begin recv */
int tw_recv(SOCKET s, WSABUF *buffer, void *callback_object)
{
    tw_overlapped *ov = make_overlapped(callback_object); /* the reactor frees it... */
    DWORD flags = 0;
    if (WSARecv(s, buffer, 1, NULL, &flags, &ov->overlapped, NULL) == SOCKET_ERROR) {
        int error = WSAGetLastError();
        if (error != WSA_IO_PENDING) {
            /* ...when its packet comes, and none will: this call is its last owner. */
#ifdef WITH_FIX
            kit_free(ov);
#endif
            return error;
        }
    }
    return 0; /* pending or done at once: the packet comes either way */
}
/* snippet:end recv */

int tw_send(SOCKET s, WSABUF *buffer, void *callback_object)
{
    tw_overlapped *ov = make_overlapped(callback_object);
    if (WSASend(s, buffer, 1, NULL, 0, &ov->overlapped, NULL) == SOCKET_ERROR) {
        int error = WSAGetLastError();
        if (error != WSA_IO_PENDING) {
#ifdef WITH_FIX
            kit_free(ov);
#endif
            return error;
        }
    }
    return 0;
}

/* snippet:begin reactor_step */
void *tw_reactor_step(HANDLE port, DWORD timeout_ms)
{
    OVERLAPPED *packet;
    DWORD bytes, error;
    if (!kit_dequeue(port, timeout_ms, &packet, &bytes, &error))
        return NULL;
    tw_overlapped *ov = (tw_overlapped *)packet; /* overlapped is its first member */
    void *callback_object = ov->callback_object;
    kit_free(ov); /* the packet was the last thing that could refer to it */
    return callback_object;
}
/* snippet:end reactor_step */
