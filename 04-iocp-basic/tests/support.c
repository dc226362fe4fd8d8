#include "support.h"

#include "tutorial/net.h"

server *start_server(int threads)
{
    server_config config = {0, threads};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

SOCKET connect_to(server *srv)
{
    SOCKET s = net_connect_loopback(server_port(srv));
    assert_true(s != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
    return s;
}
