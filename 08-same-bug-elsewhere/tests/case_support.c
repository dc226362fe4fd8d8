#include "case_support.h"

#include <string.h>

#include "case_kit.h"
#include "tutorial/testkit.h"

HANDLE case_overlapped_file(const char *content, DWORD access)
{
    char path[MAX_PATH];
    tk_temp_file(path);
    HANDLE writer = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY, NULL);
    assert_true(writer != INVALID_HANDLE_VALUE);
    DWORD written = 0;
    assert_true(WriteFile(writer, content, (DWORD)strlen(content), &written, NULL));
    CloseHandle(writer);
    DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    HANDLE file = CreateFileA(path, access | DELETE, share, NULL, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE, NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    return file;
}

HANDLE case_pair_on_port(SOCKET *client, SOCKET *server, case_port_tie tie)
{
    tk_socket_pair(client, server);
    HANDLE tied = tie == PORT_WITH_SERVER ? (HANDLE)*server
                  : tie == PORT_WITH_CLIENT ? (HANDLE)*client
                                            : NULL;
    HANDLE port = kit_port(tied, 1);
    assert_non_null(port);
    return port;
}
