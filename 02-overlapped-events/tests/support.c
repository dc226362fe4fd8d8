#include "support.h"

#include "tutorial/net.h"

server *start_server(int max_clients)
{
    server_config config = {0, max_clients};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

SOCKET connect_client(server *srv)
{
    SOCKET s = net_connect_loopback(server_port(srv));
    assert_true(s != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
    return s;
}

void leave(SOCKET s)
{
    char byte;
    assert_int_equal(shutdown(s, SD_SEND), 0);
    assert_int_equal(recv(s, &byte, 1, 0), 0);
    closesocket(s);
}
