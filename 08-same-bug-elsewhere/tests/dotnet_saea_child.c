/* The scenario of test_dotnet_saea.c in a process of its own, under the page heap: a send
 * done at once, on an operation object its owner disposes while the send is in flight.
 * Exits 0 when everything was freed and nothing touched after; the page heap stops it with
 * PAGE_HEAP_FAULT_EXIT when something was. */
#include <stdio.h>

#include "case_kit.h"
#include "dotnet_saea.h"
#include "tutorial/net.h"
#include "tutorial/page_heap.h"

static void dispose_now(saea *e)
{
    e->in_flight_hook = NULL;
    saea_dispose(e);
}

int main(void)
{
    unsigned short port = 0;
    if (!net_startup())
        return 1;
    SOCKET listener = net_listen_loopback(0, &port);
    SOCKET client = net_connect_loopback(port);
    SOCKET server = accept(listener, NULL, NULL);
    if (listener == INVALID_SOCKET || client == INVALID_SOCKET || server == INVALID_SOCKET)
        return 1;
    HANDLE completion_port = kit_port((HANDLE)client, 1);
    if (completion_port == NULL)
        return 1;

    saea *e = saea_new(client);
    e->in_flight_hook = dispose_now;
    DWORD error = 0;
    bool pending = saea_send(e, "ping", 4, &error);
    /* e is gone here (disposed at its completion): only the answers are left. */
    printf("send: %s, error %lu, live blocks %ld, page-heap blocks %ld\n",
           pending ? "pending" : "done at once", (unsigned long)error, kit_live(),
           page_heap_blocks());
    if (pending || error != 0)
        return 2; /* not the scenario: the small send should be done at once */
    return kit_live() == 0 ? 0 : 1;
}
