#include "process_stats.h"

#include <tlhelp32.h>

static unsigned long count_own_threads(void)
{
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snapshot == INVALID_HANDLE_VALUE)
        return 0;
    DWORD self = GetCurrentProcessId();
    unsigned long count = 0;
    THREADENTRY32 entry;
    entry.dwSize = sizeof entry;
    for (BOOL more = Thread32First(snapshot, &entry); more;
         more = Thread32Next(snapshot, &entry)) {
        if (entry.th32OwnerProcessID == self)
            count++;
    }
    CloseHandle(snapshot);
    return count;
}

/* Walks the address space region by region (VirtualQuery) and adds up the private
 * regions: heaps and thread stacks, but not the mapped program and DLL images. */
static void add_private_memory(process_stats *stats)
{
    SYSTEM_INFO system;
    GetSystemInfo(&system);
    const unsigned char *address = system.lpMinimumApplicationAddress;
    MEMORY_BASIC_INFORMATION region;
    while (address < (const unsigned char *)system.lpMaximumApplicationAddress &&
           VirtualQuery(address, &region, sizeof region) == sizeof region) {
        if (region.Type == MEM_PRIVATE && region.State != MEM_FREE) {
            stats->reserved += region.RegionSize;
            if (region.State == MEM_COMMIT)
                stats->committed += region.RegionSize;
        }
        address = (const unsigned char *)region.BaseAddress + region.RegionSize;
    }
}

process_stats process_stats_now(void)
{
    process_stats stats = {0};
    stats.threads = count_own_threads();
    add_private_memory(&stats);
    return stats;
}

double process_stats_mib(ULONGLONG bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}
