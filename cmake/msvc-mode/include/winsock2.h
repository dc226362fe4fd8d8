/* MSVC mode: Wine's winsock2.h, plus what the Windows SDK's has and Wine 8's lacks. */
#include_next <winsock2.h>
#ifndef WSAAPI
#define WSAAPI WINAPI
#endif
