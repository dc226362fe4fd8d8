/* MSVC mode: Wine's winbase.h, plus what the Windows SDK's has and Wine 8's lacks. */
#include_next <winbase.h>
#ifndef FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
#endif
