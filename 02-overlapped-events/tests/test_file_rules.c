/* Overlapped file I/O: an event per operation tells each read's story; the handle alone
 * (the simplest notification) cannot, as soon as two operations are outstanding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overlapped_file.h"
#include "tutorial/testkit.h"

/* Writes size pattern bytes to a new temporary file; its name goes to path. */
static void make_file(char path[MAX_PATH], const unsigned char *data, size_t size)
{
    tk_temp_file(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static void a_read_at_an_offset_gets_exactly_those_bytes(void **state)
{
    (void)state;
    unsigned char data[10000], got[100];
    tk_fill_pattern(data, sizeof data, 2);
    char path[MAX_PATH];
    make_file(path, data, sizeof data);
    HANDLE file = file_open_overlapped(path);
    assert_true(file != INVALID_HANDLE_VALUE);

    DWORD count = 0;
    assert_true(file_read_at(file, 1234, got, sizeof got, &count));
    assert_int_equal(count, sizeof got);
    assert_memory_equal(got, data + 1234, sizeof got);
    /* The OVERLAPPED's offset is the only position: a read past the end fails. */
    assert_false(file_read_at(file, sizeof data, got, sizeof got, &count));
    tk_assert_error(GetLastError(), ERROR_HANDLE_EOF);
    CloseHandle(file);
    DeleteFileA(path);
}

static void a_file_read_with_eight_reads_in_flight_is_byte_exact(void **state)
{
    (void)state;
    enum { size = 3 * 1024 * 1024 + 77 }; /* not a whole number of chunks */
    unsigned char *data = malloc(size), *copy = malloc(size);
    assert_non_null(data);
    assert_non_null(copy);
    tk_fill_pattern(data, size, 3);
    char path[MAX_PATH];
    make_file(path, data, size);
    HANDLE file = file_open_overlapped(path);
    assert_true(file != INVALID_HANDLE_VALUE);

    memset(copy, 0, size);
    assert_true(file_read_whole(file, copy, size, 64 * 1024, 8));
    assert_memory_equal(copy, data, size);
    CloseHandle(file);
    DeleteFileA(path);
    free(data);
    free(copy);
}

/* ---- two reads outstanding on one handle (a pipe, so that the reads really wait) ------ */

typedef struct pipe_pair {
    HANDLE reader; /* overlapped */
    HANDLE writer;
} pipe_pair;

static pipe_pair make_pipe(void)
{
    char name[64];
    snprintf(name, sizeof name, "\\\\.\\pipe\\step02-test-%lu", GetCurrentProcessId());
    pipe_pair p;
    p.reader = CreateNamedPipeA(name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED,
                                PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
    assert_true(p.reader != INVALID_HANDLE_VALUE);
    p.writer = CreateFileA(name, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    assert_true(p.writer != INVALID_HANDLE_VALUE);
    return p;
}

static void start_pipe_read(HANDLE reader, OVERLAPPED *overlapped, char *buffer, HANDLE event)
{
    memset(overlapped, 0, sizeof *overlapped);
    overlapped->hEvent = event;
    assert_false(ReadFile(reader, buffer, 4, NULL, overlapped));
    tk_assert_error(GetLastError(), ERROR_IO_PENDING);
}

static void write_four_bytes(HANDLE writer, const char *bytes)
{
    DWORD written = 0;
    assert_true(WriteFile(writer, bytes, 4, &written, NULL));
    assert_int_equal(written, 4);
}

/* A test cannot wait on the handle for the second read (that is the point of the test),
 * so it watches the status the system writes into the OVERLAPPED, with a bound. */
static void wait_until_complete(OVERLAPPED *overlapped)
{
    assert_true(tk_wait_until_completed(overlapped, TK_PROMPT_MS));
}

static void waiting_on_the_handle_cannot_tell_which_of_two_reads_finished(void **state)
{
    (void)state;
    pipe_pair p = make_pipe();
    OVERLAPPED first, second;
    char first_buffer[4], second_buffer[4];
    start_pipe_read(p.reader, &first, first_buffer, NULL); /* no event: the handle is */
    start_pipe_read(p.reader, &second, second_buffer, NULL); /* signalled instead     */

    write_four_bytes(p.writer, "AAAA"); /* enough for the first read only */
    tk_assert_wait(WaitForSingleObject(p.reader, TK_PROMPT_MS), WAIT_OBJECT_0);
    wait_until_complete(&first);

    /* Ask about the second read: the handle is signalled, so GetOverlappedResult "waits",
     * returns at once and reports success with 0 bytes, though the read goes on. */
    DWORD count = 1234;
    assert_true(GetOverlappedResult(p.reader, &second, &count, TRUE));
    assert_int_equal(count, 0);
    assert_false(HasOverlappedIoCompleted(&second));

    write_four_bytes(p.writer, "BBBB"); /* now the second read ends for real */
    wait_until_complete(&second);
    assert_memory_equal(first_buffer, "AAAA", 4);
    assert_memory_equal(second_buffer, "BBBB", 4);
    CloseHandle(p.writer);
    CloseHandle(p.reader);
}

static void with_an_event_per_read_each_read_reports_for_itself(void **state)
{
    (void)state;
    pipe_pair p = make_pipe();
    HANDLE first_done = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE second_done = CreateEventA(NULL, TRUE, FALSE, NULL);
    OVERLAPPED first, second;
    char first_buffer[4], second_buffer[4];
    start_pipe_read(p.reader, &first, first_buffer, first_done);
    start_pipe_read(p.reader, &second, second_buffer, second_done);

    write_four_bytes(p.writer, "AAAA");
    HANDLE both[2] = {first_done, second_done};
    tk_assert_wait(WaitForMultipleObjects(2, both, FALSE, TK_PROMPT_MS), WAIT_OBJECT_0);
    tk_assert_wait(WaitForSingleObject(second_done, 0), WAIT_TIMEOUT);
    DWORD count = 0;
    assert_false(GetOverlappedResult(p.reader, &second, &count, FALSE));
    tk_assert_error(GetLastError(), ERROR_IO_INCOMPLETE); /* honest: still running */

    write_four_bytes(p.writer, "BBBB");
    tk_assert_wait(WaitForSingleObject(second_done, TK_PROMPT_MS), WAIT_OBJECT_0);
    assert_true(GetOverlappedResult(p.reader, &second, &count, FALSE));
    assert_int_equal(count, 4);
    assert_memory_equal(second_buffer, "BBBB", 4);
    CloseHandle(first_done);
    CloseHandle(second_done);
    CloseHandle(p.writer);
    CloseHandle(p.reader);
}

static void starting_a_read_resets_its_event(void **state)
{
    (void)state;
    pipe_pair p = make_pipe();
    HANDLE done = CreateEventA(NULL, TRUE, TRUE, NULL); /* signalled from the start */
    OVERLAPPED overlapped;
    char buffer[4];
    start_pipe_read(p.reader, &overlapped, buffer, done);
    tk_assert_wait(WaitForSingleObject(done, 0), WAIT_TIMEOUT);

    write_four_bytes(p.writer, "CCCC");
    tk_assert_wait(WaitForSingleObject(done, TK_PROMPT_MS), WAIT_OBJECT_0);
    DWORD count = 0;
    assert_true(GetOverlappedResult(p.reader, &overlapped, &count, FALSE));
    assert_int_equal(count, 4);
    CloseHandle(done);
    CloseHandle(p.writer);
    CloseHandle(p.reader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_read_at_an_offset_gets_exactly_those_bytes),
        cmocka_unit_test(a_file_read_with_eight_reads_in_flight_is_byte_exact),
        cmocka_unit_test(starting_a_read_resets_its_event),
        cmocka_unit_test(waiting_on_the_handle_cannot_tell_which_of_two_reads_finished),
        cmocka_unit_test(with_an_event_per_read_each_read_reports_for_itself),
    };
    return cmocka_run_group_tests_name("step02 file rules", tests, NULL, NULL);
}
