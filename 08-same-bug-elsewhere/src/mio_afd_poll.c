#include "mio_afd_poll.h"

#include "case_kit.h"

sock_state *sock_state_register(SOCKET s)
{
    sock_state *state = kit_alloc(sizeof *state);
    state->references = 1; /* the registry's */
    state->socket = s;
    return state;
}

static void sock_state_release(sock_state *state)
{
    if (InterlockedDecrement(&state->references) == 0)
        kit_free(state);
}

/* snippet:begin update */
int sock_state_update(sock_state *state)
{
    if (state->poll_pending)
        return 0;
    /* The reference the kernel holds while the poll is out; the selector drops it when the
     * packet comes (mio: Arc::into_raw(self_arc.clone()) as the OVERLAPPED pointer). */
    InterlockedIncrement(&state->references);
    static char nothing;
    WSABUF zero = {0, &nothing};
    DWORD flags = 0;
    if (WSARecv(state->socket, &zero, 1, NULL, &flags, &state->overlapped, NULL) == SOCKET_ERROR
        && WSAGetLastError() != WSA_IO_PENDING) {
        int error = WSAGetLastError();
        /* Failed at once: no packet will bring the reference back. */
#ifdef WITH_FIX
        sock_state_release(state); /* mio's fix: a wrapper drops it unless the poll started */
#endif
        if (error == WSAENOTSOCK) { /* mio: ERROR_INVALID_HANDLE, the socket was closed */
            state->delete_pending = true;
            return 0;
        }
        return error;
    }
    state->poll_pending = true;
    return 0;
}
/* snippet:end update */

sock_state *selector_step(HANDLE port, DWORD timeout_ms)
{
    OVERLAPPED *packet;
    DWORD bytes, error;
    if (!kit_dequeue(port, timeout_ms, &packet, &bytes, &error))
        return NULL;
    sock_state *state = (sock_state *)packet;
    state->poll_pending = false;
    sock_state_release(state); /* the reference the poll carried */
    return state;
}

void sock_state_deregister(sock_state *state)
{
    sock_state_release(state);
}
