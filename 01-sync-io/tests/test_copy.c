/* The blocking copy, and the rules of synchronous ReadFile it rests on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "tutorial/testkit.h"

/* Two fresh, empty temporary files: the source and the destination of a copy. */
static void temp_files(char from[MAX_PATH], char to[MAX_PATH])
{
    tk_temp_file(from);
    tk_temp_file(to);
}

static void delete_files(const char *from, const char *to)
{
    DeleteFileA(from);
    DeleteFileA(to);
}

static void write_file(const char *path, const unsigned char *data, DWORD length)
{
    HANDLE file = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    DWORD written = 0;
    assert_true(WriteFile(file, data, length, &written, NULL));
    assert_int_equal(written, length);
    CloseHandle(file);
}

/* The whole file, in a malloc'd buffer; its size goes to *length. */
static unsigned char *read_file(const char *path, DWORD *length)
{
    HANDLE file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    LARGE_INTEGER size;
    assert_true(GetFileSizeEx(file, &size));
    unsigned char *data = malloc((size_t)size.QuadPart + 1);
    assert_non_null(data);
    DWORD got = 0;
    assert_true(ReadFile(file, data, (DWORD)size.QuadPart, &got, NULL));
    assert_int_equal(got, (DWORD)size.QuadPart);
    CloseHandle(file);
    *length = got;
    return data;
}

static void a_multi_megabyte_file_is_copied_byte_exact(void **state)
{
    (void)state;
    enum { size = 5 * 1024 * 1024 + 123 }; /* not a multiple of the chunk */
    unsigned char *original = malloc(size);
    assert_non_null(original);
    tk_fill_pattern(original, size, 7);
    char from[MAX_PATH], to[MAX_PATH];
    temp_files(from, to);
    write_file(from, original, size);

    copy_result result;
    tk_assert_error(copy_file(from, to, COPY_DEFAULT_CHUNK, &result), ERROR_SUCCESS);
    assert_int_equal(result.bytes, size);

    DWORD length = 0;
    unsigned char *copy = read_file(to, &length);
    assert_int_equal(length, size);
    assert_memory_equal(copy, original, size);
    free(copy);
    free(original);
    delete_files(from, to);
}

/* One ReadFile per full chunk, one for the rest, and one more that returns 0 bytes: the
 * end of the file. Smaller chunks mean more calls, and every call is a trip into the
 * kernel and a wait. */
static void the_copy_takes_one_read_per_chunk_plus_the_end_of_file_read(void **state)
{
    (void)state;
    enum { size = 10000 };
    unsigned char original[size];
    tk_fill_pattern(original, size, 3);
    char from[MAX_PATH], to[MAX_PATH];
    temp_files(from, to);
    write_file(from, original, size);

    copy_result result;
    tk_assert_error(copy_file(from, to, 4096, &result), ERROR_SUCCESS);
    assert_int_equal(result.reads, 3 + 1);  /* 4096 + 4096 + 1808, then 0 */
    assert_int_equal(result.writes, 3);
    tk_assert_error(copy_file(from, to, 1000, &result), ERROR_SUCCESS);
    assert_int_equal(result.reads, 10 + 1);
    assert_int_equal(result.writes, 10);
    delete_files(from, to);
}

static void an_empty_file_copies_to_an_empty_file(void **state)
{
    (void)state;
    char from[MAX_PATH], to[MAX_PATH];
    temp_files(from, to);
    write_file(to, (const unsigned char *)"old contents", 12); /* replaced by the copy */

    copy_result result;
    tk_assert_error(copy_file(from, to, COPY_DEFAULT_CHUNK, &result), ERROR_SUCCESS);
    assert_int_equal(result.bytes, 0);
    assert_int_equal(result.reads, 1);
    DWORD length = 99;
    free(read_file(to, &length));
    assert_int_equal(length, 0);
    delete_files(from, to);
}

static void copying_a_missing_file_fails_with_file_not_found_and_creates_nothing(void **state)
{
    (void)state;
    char from[MAX_PATH], to[MAX_PATH];
    temp_files(from, to);
    delete_files(from, to);

    copy_result result;
    tk_assert_error(copy_file(from, to, COPY_DEFAULT_CHUNK, &result), ERROR_FILE_NOT_FOUND);
    assert_int_equal(GetFileAttributesA(to), INVALID_FILE_ATTRIBUTES);
}

/* A new temporary file (its name goes to path) that holds contents, opened for reading on
 * a synchronous handle. */
static HANDLE open_temp_file_holding(char path[MAX_PATH], const char *contents)
{
    tk_temp_file(path);
    write_file(path, (const unsigned char *)contents, (DWORD)strlen(contents));
    HANDLE file = CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    return file;
}

/* Microsoft's ReadFile documentation: on a synchronous handle, reading at the end of a
 * file succeeds and reports zero bytes. That, not an error, is how the copy loop ends. */
static void a_synchronous_read_at_the_end_of_a_file_succeeds_with_zero_bytes(void **state)
{
    (void)state;
    char path[MAX_PATH];
    HANDLE file = open_temp_file_holding(path, "abc");
    char buffer[16];
    DWORD got = 99;
    assert_true(ReadFile(file, buffer, (DWORD)sizeof buffer, &got, NULL));
    assert_int_equal(got, 3);
    got = 99;
    assert_true(ReadFile(file, buffer, (DWORD)sizeof buffer, &got, NULL));
    assert_int_equal(got, 0);
    CloseHandle(file);
    DeleteFileA(path);
}

/* A synchronous handle keeps a file position: each ReadFile starts where the last one
 * stopped, which is why the copy loop never says where to read. (Overlapped handles have
 * no position: every call names its offset in the OVERLAPPED, step 02.) */
static void a_synchronous_handle_reads_on_from_where_the_last_read_stopped(void **state)
{
    (void)state;
    char path[MAX_PATH];
    HANDLE file = open_temp_file_holding(path, "0123456789");
    char buffer[4];
    DWORD got = 0;
    assert_true(ReadFile(file, buffer, 4, &got, NULL));
    assert_memory_equal(buffer, "0123", 4);
    assert_true(ReadFile(file, buffer, 4, &got, NULL));
    assert_memory_equal(buffer, "4567", 4);
    LARGE_INTEGER zero = {0}, position;
    assert_true(SetFilePointerEx(file, zero, &position, FILE_CURRENT));
    assert_int_equal(position.QuadPart, 8);
    CloseHandle(file);
    DeleteFileA(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_multi_megabyte_file_is_copied_byte_exact),
        cmocka_unit_test(the_copy_takes_one_read_per_chunk_plus_the_end_of_file_read),
        cmocka_unit_test(an_empty_file_copies_to_an_empty_file),
        cmocka_unit_test(copying_a_missing_file_fails_with_file_not_found_and_creates_nothing),
        cmocka_unit_test(a_synchronous_read_at_the_end_of_a_file_succeeds_with_zero_bytes),
        cmocka_unit_test(a_synchronous_handle_reads_on_from_where_the_last_read_stopped),
    };
    return cmocka_run_group_tests_name("step01 copy", tests, NULL, NULL);
}
