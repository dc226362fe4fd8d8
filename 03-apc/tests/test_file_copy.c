/* ReadFileEx and WriteFileEx: a file copy where each routine starts the next operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apc_file.h"
#include "tutorial/testkit.h"

enum { QUIET_MS = 300 };

static void make_file(char path[MAX_PATH], const unsigned char *data, size_t size)
{
    tk_temp_file(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_back(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    *size = (size_t)ftell(f);
    rewind(f);
    unsigned char *data = malloc(*size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

static void a_file_is_copied_byte_exact_by_read_and_write_routines(void **state)
{
    (void)state;
    enum { size = 3 * 1024 * 1024 + 77 };
    unsigned char *data = malloc(size);
    assert_non_null(data);
    tk_fill_pattern(data, size, 5);
    char from[MAX_PATH], to[MAX_PATH];
    make_file(from, data, size);
    tk_temp_file(to);

    unsigned long routines = 0;
    assert_true(apc_copy_file(from, to, &routines));
    size_t copied_size = 0;
    unsigned char *copy = read_back(to, &copied_size);
    assert_int_equal(copied_size, size);
    assert_memory_equal(copy, data, size);
    /* One read routine and one write routine per chunk. */
    unsigned long chunks = (size + APC_COPY_CHUNK - 1) / APC_COPY_CHUNK;
    assert_int_equal(routines, 2 * chunks);
    free(copy);
    free(data);
    DeleteFileA(from);
    DeleteFileA(to);
}

static void copying_a_missing_file_fails_without_running_a_routine(void **state)
{
    (void)state;
    char to[MAX_PATH];
    tk_temp_file(to);
    unsigned long routines = 99;
    assert_false(apc_copy_file("C:\\no\\such\\file.bin", to, &routines));
    tk_assert_error(GetLastError(), ERROR_PATH_NOT_FOUND);
    assert_int_equal(routines, 0);
    DeleteFileA(to);
}

typedef struct recorded_read {
    OVERLAPPED overlapped;
    char buffer[16];
    volatile LONG runs;
    DWORD error, bytes;
} recorded_read;

static void CALLBACK record(DWORD error, DWORD bytes, OVERLAPPED *overlapped)
{
    recorded_read *r = CONTAINING_RECORD(overlapped, recorded_read, overlapped);
    r->error = error;
    r->bytes = bytes;
    InterlockedIncrement(&r->runs);
}

static void a_read_file_ex_routine_waits_for_an_alertable_wait(void **state)
{
    (void)state;
    char path[MAX_PATH];
    make_file(path, (const unsigned char *)"0123456789", 10);
    HANDLE file = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                              NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    recorded_read r = {0};
    r.overlapped.Offset = 4;
    assert_true(ReadFileEx(file, r.buffer, 3, &r.overlapped, record));

    assert_int_equal(SleepEx(QUIET_MS, FALSE), 0);
    assert_int_equal(r.runs, 0);
    tk_assert_wait(SleepEx(TK_PROMPT_MS, TRUE), WAIT_IO_COMPLETION);
    assert_int_equal(r.runs, 1);
    tk_assert_error(r.error, ERROR_SUCCESS);
    assert_int_equal(r.bytes, 3);
    assert_memory_equal(r.buffer, "456", 3);
    CloseHandle(file);
    DeleteFileA(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_file_is_copied_byte_exact_by_read_and_write_routines),
        cmocka_unit_test(copying_a_missing_file_fails_without_running_a_routine),
        cmocka_unit_test(a_read_file_ex_routine_waits_for_an_alertable_wait),
    };
    return cmocka_run_group_tests_name("step03 file copy", tests, NULL, NULL);
}
