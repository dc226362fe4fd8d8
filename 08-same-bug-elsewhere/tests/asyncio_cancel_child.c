/* The scenario of test_asyncio_cancel.c in a process of its own, under the page heap: a
 * receive that finished at once (its packet queued, not yet handled), then dispose, whose
 * CancelIoEx answers ERROR_NOT_FOUND as Windows does, then the packet. As the fork's
 * second fix was, dispose frees the receive context and handling the packet touches it:
 * the page heap ends the process (exit 3). With the fix, the packet frees the context and
 * the process exits 0. Other exits: 1 the set-up failed, 2 no packet came, 4 the planned
 * answer was not used, 5 something leaked. */
#include <stdio.h>

#include "asyncio_cancel.h"
#include "case_kit.h"
#include "tutorial/fault_plan.h"
#include "tutorial/net.h"

int main(void)
{
    unsigned short port_number;
    char why[128];
    if (!net_startup() || !fault_plan_set("cancel#1=fail:1168", why, sizeof why))
        return 1;
    SOCKET listener = net_listen_loopback(0, &port_number);
    SOCKET client = net_connect_loopback(port_number);
    SOCKET server = accept(listener, NULL, NULL);
    HANDLE port = kit_port(NULL, 0);
    if (client == INVALID_SOCKET || server == INVALID_SOCKET || port == NULL)
        return 1;
    long before = kit_live();

    aio_socket *s = aio_socket_new(port, server);
    WSAPOLLFD readable = {server, POLLRDNORM, 0};
    if (s == NULL || !net_send_all(client, "hi", 2) || WSAPoll(&readable, 1, 5000) != 1)
        return 1;
    if (aio_receive(s) != 0)
        return 1; /* the bytes were there: done at once, and its packet is queued */
    aio_dispose(s);
    if (fault_plan_fired("cancel") != 1)
        return 4;

    if (!aio_handle_completion(port, 5000))
        return 2;
    fprintf(stderr, "the queued packet came after dispose; its context was still there\n");
    closesocket(client);
    closesocket(listener);
    return kit_live() == before ? 0 : 5;
}
