/* step01-copy: copies a file with blocking ReadFile/WriteFile calls.
 *
 *   step01-copy --from FILE --to FILE [--chunk BYTES]
 */
#include <stdio.h>

#include "copy.h"
#include "tutorial/cli.h"
#include "tutorial/errors.h"

int main(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    int chunk = COPY_DEFAULT_CHUNK;
    const cli_option options[] = {
        {"--from", CLI_TEXT, "FILE", 0, 0, &from, "the file to copy (required)"},
        {"--to", CLI_TEXT, "FILE", 0, 0, &to, "the copy; replaced when it exists (required)"},
        {"--chunk", CLI_INT, "BYTES", 1, 16 * 1024 * 1024, &chunk,
         "bytes per ReadFile call (default 65536)"},
    };
    const cli_program program = {"step01-copy", "copy a file with blocking ReadFile/WriteFile",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (from == NULL || to == NULL) {
        fprintf(stderr, "step01-copy: --from and --to are required\n");
        cli_print_usage(&program);
        return CLI_EXIT_USAGE;
    }

    ULONGLONG started = GetTickCount64();
    copy_result result;
    DWORD error = copy_file(from, to, (DWORD)chunk, &result);
    if (error != ERROR_SUCCESS) {
        report_error("copy", error);
        return 1;
    }
    printf("copied %llu bytes in %lu reads and %lu writes (%llu ms)\n",
           (unsigned long long)result.bytes, result.reads, result.writes,
           (unsigned long long)(GetTickCount64() - started));
    return 0;
}
