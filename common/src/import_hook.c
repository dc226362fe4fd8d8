#include "tutorial/import_hook.h"

#include <windows.h>

#include <string.h>

/* The import directory of a PE image lists, per DLL, two parallel arrays: the names of the
 * functions (OriginalFirstThunk) and the addresses the loader filled in (FirstThunk, the
 * import address table). Calls through an import read the second. */
tk_function tk_hook_import(const char *function, tk_function replacement)
{
    unsigned char *base = (unsigned char *)GetModuleHandleW(NULL);
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    const IMAGE_DATA_DIRECTORY *directory =
        &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (directory->VirtualAddress == 0)
        return NULL;
    tk_function original = NULL;
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
            if (strcmp((const char *)entry->Name, function) != 0)
                continue;
            DWORD protection = 0;
            if (!VirtualProtect(&slots[i].u1.Function, sizeof slots[i].u1.Function,
                                PAGE_READWRITE, &protection))
                return NULL;
            original = (tk_function)slots[i].u1.Function;
            slots[i].u1.Function = (ULONG_PTR)replacement;
            VirtualProtect(&slots[i].u1.Function, sizeof slots[i].u1.Function, protection,
                           &protection);
        }
    }
    return original;
}
