/* libuv's Windows reads: a WSARecv that fails at once is completed through the loop's own
 * queue. If it is not marked as out (READ_PENDING), read_stop + read_start in a read
 * callback queues it a second time. Built as it was (the request is queued twice, libuv's
 * assertion) and with the fix (once). The peer's reset makes the receive fail at once on
 * Windows; Wine reads it as an orderly end, so the fault plan makes the receive fail. */
#include <string.h>

#include "case_support.h"
#include "case_kit.h"
#include "libuv_read_pending.h"
#include "tutorial/fault_plan.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { INSERTED_TWICE = 0, RECEIVES_STARTED = 2 };
#else
enum { INSERTED_TWICE = 1, RECEIVES_STARTED = 3 };
#endif

typedef struct seen {
    long reads, errors;
    DWORD last_error;
} seen;

static void second_callback(uvr_stream *stream, long nread, DWORD error)
{
    seen *s = stream->user;
    (void)nread;
    if (error != 0) {
        s->errors++;
        s->last_error = error;
    }
}

/* The callback: data came; it switches callbacks with read_stop + read_start. */
static void first_callback(uvr_stream *stream, long nread, DWORD error)
{
    seen *s = stream->user;
    assert_int_equal(error, 0);
    assert_true(nread > 0);
    s->reads++;
    uvr_read_stop(stream);
    uvr_read_start(stream, second_callback);
}

static void a_failed_read_restarted_in_its_callback_is_queued_once_only_when_fixed(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);
    char why[128];
    /* The first receive is real; every later one fails at once, as after a reset. */
    assert_true(fault_plan_set("receive#2+=fail:WSAECONNRESET", why, sizeof why));

    seen s = {0};
    uvr_stream stream;
    uvr_init(&stream, server, port);
    stream.user = &s;
    uvr_read_start(&stream, first_callback);
    assert_int_equal(send(client, "data", 4, 0), 4);

    assert_true(uvr_run_once(&stream, TK_PROMPT_MS)); /* the data: first_callback */
    assert_int_equal(s.reads, 1);
    assert_int_equal(stream.inserted_twice, INSERTED_TWICE);
    assert_int_equal(fault_plan_calls("receive"), RECEIVES_STARTED);
    assert_true(uvr_run_once(&stream, 0)); /* the failed request, from the own queue */
    assert_int_equal(s.errors, 1);
    tk_assert_error(s.last_error, WSAECONNRESET);
    assert_false(uvr_run_once(&stream, 200)); /* nothing else is out */

    assert_true(fault_plan_set(NULL, why, sizeof why));
    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failed_read_restarted_in_its_callback_is_queued_once_only_when_fixed),
    };
    return cmocka_run_group_tests_name("libuv_read_pending", tests, tk_winsock_up,
                                       tk_winsock_down);
}
