#include "tutorial/import_hook.h"

#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>

#include <stdbool.h>
#include <string.h>

/* The import directory of a PE image lists, per DLL, two parallel arrays: the names of the
 * functions (OriginalFirstThunk) and the addresses the loader filled in (FirstThunk, the
 * import address table). Calls through an import read the second. visit is called with
 * every slot of the table whose name is `function`; it returns false to stop. */
static void for_each_slot(const char *function, bool (*visit)(IMAGE_THUNK_DATA *slot, void *context),
                          void *context)
{
    unsigned char *base = (unsigned char *)GetModuleHandleW(NULL);
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    const IMAGE_DATA_DIRECTORY *directory =
        &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (directory->VirtualAddress == 0)
        return;
    const IMAGE_IMPORT_DESCRIPTOR *dll =
        (const IMAGE_IMPORT_DESCRIPTOR *)(base + directory->VirtualAddress);
    for (; dll->Name != 0; dll++) {
        if (dll->OriginalFirstThunk == 0)
            continue; /* no name table: nothing to match by name */
        const IMAGE_THUNK_DATA *names =
            (const IMAGE_THUNK_DATA *)(base + dll->OriginalFirstThunk);
        IMAGE_THUNK_DATA *slots = (IMAGE_THUNK_DATA *)(base + dll->FirstThunk);
        for (size_t i = 0; names[i].u1.AddressOfData != 0; i++) {
            if (IMAGE_SNAP_BY_ORDINAL(names[i].u1.Ordinal))
                continue;
            const IMAGE_IMPORT_BY_NAME *entry =
                (const IMAGE_IMPORT_BY_NAME *)(base + names[i].u1.AddressOfData);
            if (strcmp((const char *)entry->Name, function) == 0 && !visit(&slots[i], context))
                return;
        }
    }
}

static bool read_slot(IMAGE_THUNK_DATA *slot, void *context)
{
    *(tk_function *)context = (tk_function)slot->u1.Function;
    return false; /* the first is enough */
}

tk_function tk_import_target(const char *function)
{
    tk_function target = NULL;
    for_each_slot(function, read_slot, &target);
    return target;
}

typedef struct replacing {
    tk_function replacement, original;
    bool failed;
} replacing;

static bool replace_slot(IMAGE_THUNK_DATA *slot, void *context)
{
    replacing *r = context;
    DWORD protection = 0;
    if (!VirtualProtect(&slot->u1.Function, sizeof slot->u1.Function, PAGE_READWRITE,
                        &protection)) {
        r->failed = true;
        return false;
    }
    r->original = (tk_function)slot->u1.Function;
    slot->u1.Function = (ULONG_PTR)r->replacement;
    VirtualProtect(&slot->u1.Function, sizeof slot->u1.Function, protection, &protection);
    return true;
}

tk_function tk_hook_import(const char *function, tk_function replacement)
{
    replacing r = {replacement, NULL, false};
    for_each_slot(function, replace_slot, &r);
    return r.failed ? NULL : r.original;
}

/* ---- AcceptEx, which a program looks up instead of importing --------------------------- */

typedef int(WSAAPI *wsaioctl_function)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD,
                                       LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
static wsaioctl_function real_wsaioctl;
static tk_accept_ex_function accept_ex_replacement;
static tk_accept_ex_function *accept_ex_real;

static int WSAAPI wsaioctl_handing_out_the_replacement(
    SOCKET s, DWORD code, LPVOID in, DWORD in_size, LPVOID out, DWORD out_size,
    LPDWORD returned, LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine)
{
    int result = real_wsaioctl(s, code, in, in_size, out, out_size, returned, overlapped,
                               routine);
    GUID accept_ex = WSAID_ACCEPTEX;
    if (result == 0 && code == SIO_GET_EXTENSION_FUNCTION_POINTER && in != NULL &&
        in_size == sizeof accept_ex && memcmp(in, &accept_ex, sizeof accept_ex) == 0 &&
        out != NULL && out_size >= sizeof(tk_accept_ex_function)) {
        memcpy(accept_ex_real, out, sizeof *accept_ex_real);
        memcpy(out, &accept_ex_replacement, sizeof accept_ex_replacement);
    }
    return result;
}

bool tk_hook_accept_ex(tk_accept_ex_function replacement, tk_accept_ex_function *real)
{
    accept_ex_replacement = replacement;
    accept_ex_real = real;
    real_wsaioctl = (wsaioctl_function)tk_hook_import(
        "WSAIoctl", (tk_function)wsaioctl_handing_out_the_replacement);
    return real_wsaioctl != NULL;
}
