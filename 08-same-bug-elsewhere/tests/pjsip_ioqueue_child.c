/* pjsip's unregister with a receive still pending, in a process of its own under the page
 * heap, for test_pjsip_ioqueue.c: as pjsip was, the dispatcher touches the freed key when
 * the cancelled receive's packet comes, and the page heap ends the process (exit 3); with
 * the fix, the packet frees the key and the process exits 0. Other exits: 1 the set-up
 * failed, 2 no packet came, 4 something leaked. */
#include <stdio.h>

#include "case_kit.h"
#include "pjsip_ioqueue.h"
#include "tutorial/net.h"

int main(void)
{
    unsigned short port_number;
    if (!net_startup())
        return 1;
    SOCKET listener = net_listen_loopback(0, &port_number);
    SOCKET client = net_connect_loopback(port_number);
    SOCKET server = accept(listener, NULL, NULL);
    HANDLE port = kit_port(NULL, 0);
    if (client == INVALID_SOCKET || server == INVALID_SOCKET || port == NULL)
        return 1;
    long before = kit_live();

    pj_key *key = pj_key_register(port, server);
    if (key == NULL || pj_key_start_receive(key) != WSA_IO_PENDING)
        return 1; /* the client sends nothing: the receive waits */
    pj_key_unregister(key); /* what the application does when it is done with the socket */

    DWORD error = 0;
    if (!pj_ioqueue_poll(port, 5000, &error))
        return 2;
    fprintf(stderr, "the cancelled receive's packet came (error %lu); the key was still there\n",
            error);
    closesocket(client);
    closesocket(listener);
    return kit_live() == before ? 0 : 4;
}
