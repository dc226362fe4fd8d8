/* The page heap turns misuse of memory into a stop with a report: a read after free, a
 * write one byte past the end (of any size), one byte before the start (underrun layout),
 * a double free, a touch after free on another thread, freed memory handed to Winsock, a
 * free of memory a pending operation holds, and a packet for a freed OVERLAPPED each end
 * the process with PAGE_HEAP_FAULT_EXIT and say what was touched. Correct use runs through. */
#include <string.h>

#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

/* Runs page-heap-child WHAT with TUTORIAL_PAGE_HEAP=layout ("" for the default). */
static void run_child_with(const char *layout, const char *what, int expected_status,
                           const char *expected_text)
{
    SetEnvironmentVariableA("TUTORIAL_PAGE_HEAP", layout[0] != '\0' ? layout : NULL);
    tk_process *child = tk_spawn("page-heap-child", what);
    SetEnvironmentVariableA("TUTORIAL_PAGE_HEAP", NULL);
    assert_non_null(child);
    int status = tk_wait_exit(child, TK_PROMPT_MS);
    print_message("%s: exit %d\n%s", what, status, tk_stderr(child));
    assert_int_equal(status, expected_status);
    if (expected_text != NULL)
        assert_non_null(strstr(tk_stderr(child), expected_text));
    assert_null(strstr(tk_stdout(child), "not stopped"));
    tk_process_free(child);
}

static void run_child(const char *what, int expected_status, const char *expected_text)
{
    run_child_with("", what, expected_status, expected_text);
}

static void correct_use_runs_through_the_page_heap(void **state)
{
    (void)state;
    run_child("fine", 0, NULL);
}

static void a_read_after_free_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("use-after-free", PAGE_HEAP_FAULT_EXIT, "block that was FREED (use after free)");
}

static void a_write_past_the_end_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("overrun", PAGE_HEAP_FAULT_EXIT, "1 byte past the end of a 16-byte block");
}

/* The receive buffer of steps 06 and 07 is 65,540 bytes, no multiple of 16: the block ends
 * on the byte before its guard page all the same. */
static void one_byte_past_a_65540_byte_block_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("receive-buffer-overrun", PAGE_HEAP_FAULT_EXIT,
              "1 byte past the end of a 65540-byte block (overrun)");
}

static void one_byte_before_the_start_is_stopped_in_the_underrun_layout(void **state)
{
    (void)state;
    run_child_with("underrun", "underrun", PAGE_HEAP_FAULT_EXIT,
                   "1 byte before the start of a 16-byte block (underrun)");
}

static void the_align16_layout_hands_out_16_byte_aligned_blocks(void **state)
{
    (void)state;
    run_child_with("align16", "align16", 0, NULL);
}

static void a_freed_buffer_handed_to_wsarecv_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("freed-buffer-to-wsarecv", PAGE_HEAP_FAULT_EXIT,
              "USE AFTER FREE: a buffer handed to Winsock");
}

static void freeing_the_overlapped_of_a_pending_receive_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("free-while-pending", PAGE_HEAP_FAULT_EXIT,
              "FREE OF MEMORY IN USE BY PENDING I/O");
}

static void a_packet_for_a_freed_overlapped_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("packet-for-freed-overlapped", PAGE_HEAP_FAULT_EXIT,
              "USE AFTER FREE: the OVERLAPPED of a dequeued packet");
}

static void a_double_free_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("double-free", PAGE_HEAP_FAULT_EXIT, "DOUBLE FREE");
}

static void a_touch_after_free_on_another_thread_is_stopped_too(void **state)
{
    (void)state;
    run_child("thread-use-after-free", PAGE_HEAP_FAULT_EXIT, "(use after free)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(correct_use_runs_through_the_page_heap),
        cmocka_unit_test(a_read_after_free_is_stopped_and_reported),
        cmocka_unit_test(a_write_past_the_end_is_stopped_and_reported),
        cmocka_unit_test(one_byte_past_a_65540_byte_block_is_stopped_and_reported),
        cmocka_unit_test(one_byte_before_the_start_is_stopped_in_the_underrun_layout),
        cmocka_unit_test(the_align16_layout_hands_out_16_byte_aligned_blocks),
        cmocka_unit_test(a_freed_buffer_handed_to_wsarecv_is_stopped_and_reported),
        cmocka_unit_test(freeing_the_overlapped_of_a_pending_receive_is_stopped_and_reported),
        cmocka_unit_test(a_packet_for_a_freed_overlapped_is_stopped_and_reported),
        cmocka_unit_test(a_double_free_is_stopped_and_reported),
        cmocka_unit_test(a_touch_after_free_on_another_thread_is_stopped_too),
    };
    return cmocka_run_group_tests_name("page_heap", tests, NULL, NULL);
}
