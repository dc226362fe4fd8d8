#include "tutorial/net.h"

#include <string.h>

#include "tutorial/errors.h"

bool net_startup(void)
{
    WSADATA data;
    int error = WSAStartup(MAKEWORD(2, 2), &data);
    if (error != 0) {
        report_error("WSAStartup", (DWORD)error);
        return false;
    }
    return true;
}

struct sockaddr_in net_loopback_address(unsigned short port)
{
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
}

SOCKET net_listen_loopback(unsigned short port, unsigned short *bound_port)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
        report_error("socket", (DWORD)WSAGetLastError());
        return INVALID_SOCKET;
    }
    /* A child process the program starts must not inherit the listener (libuv makes its
     * sockets the same way). */
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    /* Without this another program could bind the same port beside us. */
    BOOL exclusive = TRUE;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&exclusive, sizeof exclusive);

    struct sockaddr_in address = net_loopback_address(port);
    int length = sizeof address;
    if (bind(s, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(s, SOMAXCONN) != 0 ||
        getsockname(s, (struct sockaddr *)&address, &length) != 0) {
        report_error("bind/listen on 127.0.0.1", (DWORD)WSAGetLastError());
        closesocket(s);
        return INVALID_SOCKET;
    }
    *bound_port = ntohs(address.sin_port);
    return s;
}

SOCKET net_connect_loopback(unsigned short port)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return INVALID_SOCKET;
    struct sockaddr_in address = net_loopback_address(port);
    if (connect(s, (struct sockaddr *)&address, sizeof address) != 0) {
        int error = WSAGetLastError();
        closesocket(s);
        WSASetLastError(error);
        return INVALID_SOCKET;
    }
    return s;
}

bool net_send_all(SOCKET s, const void *data, size_t length)
{
    const char *next = data;
    while (length > 0) {
        int chunk = length > 65536 ? 65536 : (int)length;
        int sent = send(s, next, chunk, 0);
        if (sent == SOCKET_ERROR)
            return false;
        next += sent;
        length -= (size_t)sent;
    }
    return true;
}

bool net_recv_all(SOCKET s, void *data, size_t length)
{
    char *next = data;
    while (length > 0) {
        int chunk = length > 65536 ? 65536 : (int)length;
        int received = recv(s, next, chunk, 0);
        if (received <= 0)
            return false;
        next += received;
        length -= (size_t)received;
    }
    return true;
}

bool net_set_recv_timeout(SOCKET s, DWORD milliseconds)
{
    return setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&milliseconds,
                      sizeof milliseconds) == 0;
}

/* snippet:begin hard_reset */
void net_hard_reset(SOCKET s)
{
    /* Linger on, with a zero timeout: closesocket discards unsent data and sends RST. */
    struct linger abortive = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&abortive, sizeof abortive);
    closesocket(s);
}
/* snippet:end hard_reset */

void net_put_frame_length(unsigned char header[4], unsigned long length)
{
    header[0] = (unsigned char)(length >> 24);
    header[1] = (unsigned char)(length >> 16);
    header[2] = (unsigned char)(length >> 8);
    header[3] = (unsigned char)length;
}

unsigned long net_get_frame_length(const unsigned char header[4])
{
    return ((unsigned long)header[0] << 24) | ((unsigned long)header[1] << 16) |
           ((unsigned long)header[2] << 8) | (unsigned long)header[3];
}

bool net_read_greeting(SOCKET s)
{
    unsigned char frame[4 + NET_GREETING_LENGTH];
    return net_recv_all(s, frame, sizeof frame) &&
           net_get_frame_length(frame) == NET_GREETING_LENGTH &&
           memcmp(frame + 4, NET_GREETING, NET_GREETING_LENGTH) == 0;
}

bool net_under_wine(void)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}
