#include "support.h"

#include "tutorial/net.h"

SOCKET listen_on_new_port(unsigned short *port_number, HANDLE *port, ULONG_PTR key)
{
    SOCKET listener = net_listen_loopback(0, port_number);
    assert_true(listener != INVALID_SOCKET);
    *port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    assert_non_null(*port);
    assert_true(CreateIoCompletionPort((HANDLE)listener, *port, key, 0) == *port);
    return listener;
}

SOCKET new_overlapped_socket(void)
{
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    assert_true(s != INVALID_SOCKET);
    return s;
}
