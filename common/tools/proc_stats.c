/* proc-stats: what a running program costs, seen from outside it: its threads and the
 * private memory it has committed. The chapters use it to put each step's server beside
 * step 01's at the same number of idle clients.
 *
 *   proc-stats --name step03-server.exe
 *   -> threads=2 committed_private_kib=5120
 */
#include <windows.h>

#include <tlhelp32.h>
#include <stdio.h>
#include <string.h>

#include "tutorial/cli.h"
#include "tutorial/errors.h"

/* The id of the first running process whose executable is called name; 0 when none is. */
static DWORD find_process(const char *name)
{
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snapshot == INVALID_HANDLE_VALUE)
        return 0;
    PROCESSENTRY32 entry = {sizeof entry};
    DWORD found = 0;
    for (BOOL more = Process32First(snapshot, &entry); more && found == 0;
         more = Process32Next(snapshot, &entry)) {
        if (_stricmp(entry.szExeFile, name) == 0)
            found = entry.th32ProcessID;
    }
    CloseHandle(snapshot);
    return found;
}

static long count_threads(DWORD process_id)
{
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snapshot == INVALID_HANDLE_VALUE)
        return -1;
    THREADENTRY32 entry = {sizeof entry};
    long threads = 0;
    for (BOOL more = Thread32First(snapshot, &entry); more; more = Thread32Next(snapshot, &entry))
        threads += entry.th32OwnerProcessID == process_id;
    CloseHandle(snapshot);
    return threads;
}

/* Committed private memory, region by region: what Windows reports as private bytes. */
static unsigned long long committed_private(HANDLE process)
{
    unsigned long long total = 0;
    MEMORY_BASIC_INFORMATION region;
    for (const char *address = NULL;
         VirtualQueryEx(process, address, &region, sizeof region) == sizeof region;
         address = (const char *)region.BaseAddress + region.RegionSize) {
        if (region.State == MEM_COMMIT && region.Type == MEM_PRIVATE)
            total += region.RegionSize;
    }
    return total;
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    const cli_option options[] = {
        {"--name", CLI_TEXT, "EXE", 0, 0, &name, "the running program, e.g. step03-server.exe"},
    };
    const cli_program program = {"proc-stats", "threads and committed private memory of a program",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (name == NULL) {
        fprintf(stderr, "proc-stats: --name is required\n");
        cli_print_usage(&program);
        return CLI_EXIT_USAGE;
    }
    DWORD id = find_process(name);
    if (id == 0) {
        fprintf(stderr, "proc-stats: no running program is called %s\n", name);
        return 1;
    }
    HANDLE process = OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, id);
    if (process == NULL) {
        report_error("OpenProcess", GetLastError());
        return 1;
    }
    printf("threads=%ld committed_private_kib=%llu\n", count_threads(id),
           committed_private(process) / 1024);
    CloseHandle(process);
    return 0;
}
