/* The fault plan's language: rules are parsed, bad plans and outcomes Windows cannot
 * produce are refused with a reason, and each call of an operation gets the outcome its
 * rule names: by its number in the process, in a range, or on one connection. */
#include <string.h>

#include "tutorial/fault_plan.h"
#include "tutorial/testkit.h"

static void set(const char *text)
{
    char why[128] = "";
    assert_true(fault_plan_set(text, why, sizeof why));
}

static void the_nth_call_gets_its_outcome_and_the_others_stay_real(void **state)
{
    (void)state;
    set("receive#2=fail:WSAECONNRESET");
    assert_int_equal(fault_plan_take("receive").kind, FAULT_REAL);
    fault_outcome second = fault_plan_take("receive");
    assert_int_equal(second.kind, FAULT_FAIL);
    tk_assert_error(second.value, WSAECONNRESET);
    assert_int_equal(fault_plan_take("receive").kind, FAULT_REAL);
    assert_int_equal(fault_plan_take("send").kind, FAULT_REAL);
    assert_int_equal(fault_plan_calls("receive"), 3);
    assert_int_equal(fault_plan_fired("receive"), 1);
    assert_int_equal(fault_plan_fired("send"), 0);
}

static void every_kth_from_nth_and_every_call(void **state)
{
    (void)state;
    set("accept%3=fail:10054,send#2+=pending,receive-done#*=error:ERROR_NETNAME_DELETED,"
        "post#1=delay:5,receive#1=now,receive-done#1=eof,send-done#1=error:64");
    int failed = 0;
    for (int i = 1; i <= 9; i++)
        failed += fault_plan_take("accept").kind == FAULT_FAIL;
    assert_int_equal(failed, 3);
    assert_int_equal(fault_plan_take("send").kind, FAULT_REAL);
    assert_int_equal(fault_plan_take("send").kind, FAULT_PENDING);
    assert_int_equal(fault_plan_take("send").kind, FAULT_PENDING);
    fault_outcome done = fault_plan_take("receive-done");
    assert_int_equal(done.kind, FAULT_FAIL);
    tk_assert_error(done.value, ERROR_NETNAME_DELETED);
    fault_outcome pause = fault_plan_take("post");
    assert_int_equal(pause.kind, FAULT_DELAY);
    assert_int_equal(pause.value, 5);
    assert_int_equal(fault_plan_take("receive").kind, FAULT_NOW);
    fault_outcome send_done = fault_plan_take("send-done");
    assert_int_equal(send_done.kind, FAULT_FAIL);
    tk_assert_error(send_done.value, ERROR_NETNAME_DELETED);
}

/* "the next K calls": a range picks calls N to K and no other. */
static void a_range_picks_its_calls_in_a_row(void **state)
{
    (void)state;
    set("accept#3-5=fail:WSAECONNRESET");
    int picked[7] = {0};
    for (int i = 1; i <= 6; i++)
        picked[i] = fault_plan_take("accept").kind == FAULT_FAIL;
    assert_int_equal(picked[1] + picked[2] + picked[6], 0);
    assert_int_equal(picked[3] + picked[4] + picked[5], 3);
}

/* @M: a rule for the Nth call on the Mth connection, whatever the other connections do. */
static void a_connection_rule_counts_that_connections_calls(void **state)
{
    (void)state;
    set("receive@2#3=fail:WSAECONNRESET,send#*=short:7,receive@1#1=lost,send@3#2=early");
    assert_int_equal(fault_plan_take_op(FAULT_OP_RECEIVE, 2, 1).kind, FAULT_REAL);
    assert_int_equal(fault_plan_take_op(FAULT_OP_RECEIVE, 2, 2).kind, FAULT_REAL);
    assert_int_equal(fault_plan_take_op(FAULT_OP_RECEIVE, 3, 3).kind, FAULT_REAL);
    assert_int_equal(fault_plan_take_op(FAULT_OP_RECEIVE, 2, 3).kind, FAULT_FAIL);
    assert_int_equal(fault_plan_take_op(FAULT_OP_RECEIVE, 1, 1).kind, FAULT_LOST);
    fault_outcome cut = fault_plan_take_op(FAULT_OP_SEND, 1, 1);
    assert_int_equal(cut.kind, FAULT_SHORT);
    assert_int_equal(cut.value, 7);
    assert_int_equal(fault_plan_take_op(FAULT_OP_SEND, 3, 2).kind, FAULT_SHORT); /* first rule wins */
    assert_int_equal(fault_plan_calls("receive"), 5);
    assert_int_equal(fault_plan_fired("receive"), 2);
}

/* The plan refuses what Windows cannot answer, and says what it would answer instead. */
static void an_outcome_windows_cannot_produce_is_refused_with_the_reason(void **state)
{
    (void)state;
    static const struct {
        const char *plan, *reason;
    } impossible[] = {
        {"receive#1=fail:997", "not a failure"},
        {"receive#1=fail:ERROR_IO_PENDING", "not a failure"},
        {"receive-done#1=error:0", "success"},
        {"receive#1=fail:WSAEMSGSIZE", "message-oriented"},
        {"receive#1=fail:WSAENOBUFS", "WSARecv does not fail with WSAENOBUFS"},
        {"accept#1=fail:WSAESHUTDOWN", "AcceptEx does not fail with WSAESHUTDOWN"},
        {"send-done#1=eof", "short"},
        {"accept-done#1=eof", "0 bytes"},
        {"accept#1=short:10", "no data"},
        {"send#1=short:0", "at least 1 byte"},
        {"dequeue#1=fail:64", "GetQueuedCompletionStatus does not fail"},
        {"accept@1#1=fail:WSAECONNRESET", "@M"},
        {"close#1=fail:10038", "counted only"},
        {"alloc#1=fail:8", "NULL"},
        {"socket#1=short:5", "not an outcome"},
        {"connect#1=lost", "not an outcome"},
        {"connect#1=fail:WSAECONNRESET", "ConnectEx does not fail with WSAECONNRESET"},
    };
    for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
        char why[200] = "";
        assert_false(fault_plan_set(impossible[i].plan, why, sizeof why));
        print_message("refused %-34s %s\n", impossible[i].plan, why);
        assert_non_null(strstr(why, impossible[i].reason));
    }
    set("alloc#2=fail,dequeue#1=fail:ERROR_ABANDONED_WAIT_0,cancel#1=fail:ERROR_NOT_FOUND,"
        "update-context#1=fail:WSAENOTCONN,socket#1=fail:WSAEMFILE,port#1=fail:8,attach#1=fail:87,"
        "connect#1=fail:WSAECONNREFUSED,connect#2=now");
    assert_int_equal(fault_plan_take("alloc").kind, FAULT_REAL);
    assert_int_equal(fault_plan_take("alloc").kind, FAULT_FAIL);
    set(NULL);
}

static void setting_a_plan_again_starts_the_counts_anew_and_null_clears_it(void **state)
{
    (void)state;
    set("receive#1=fail:WSAECONNRESET");
    assert_int_equal(fault_plan_take("receive").kind, FAULT_FAIL);
    set("receive#1=fail:WSAECONNRESET");
    assert_int_equal(fault_plan_take("receive").kind, FAULT_FAIL);
    set(NULL);
    assert_int_equal(fault_plan_take("receive").kind, FAULT_REAL);
    assert_int_equal(fault_plan_fired("receive"), 0);
}

static void a_bad_plan_is_refused_with_a_reason_and_the_old_one_stays(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "receive",                 /* no outcome          */
        "receive=fail:64",         /* no selector         */
        "receive#0=fail:64",       /* calls count from 1  */
        "receive#x=fail:64",
        "receive%0=now",
        "receive#1=explode",
        "receive#1=fail:",
        "receive#1=fail:NO_SUCH_ERROR",
        "receive#1=delay:-5",
        "receive#5-2=now",         /* an empty range      */
        "receive@0#1=now",         /* connections from 1  */
        "published#1=delay:5",     /* not an operation    */
        "#1=now",                  /* no operation        */
    };
    set("send#1=pending");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[128] = "";
        assert_false(fault_plan_set(bad[i], why, sizeof why));
        assert_true(strlen(why) > 0);
        print_message("refused %-28s %s\n", bad[i], why);
    }
    assert_int_equal(fault_plan_take("send").kind, FAULT_PENDING);
    set(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_nth_call_gets_its_outcome_and_the_others_stay_real),
        cmocka_unit_test(every_kth_from_nth_and_every_call),
        cmocka_unit_test(a_range_picks_its_calls_in_a_row),
        cmocka_unit_test(a_connection_rule_counts_that_connections_calls),
        cmocka_unit_test(an_outcome_windows_cannot_produce_is_refused_with_the_reason),
        cmocka_unit_test(setting_a_plan_again_starts_the_counts_anew_and_null_clears_it),
        cmocka_unit_test(a_bad_plan_is_refused_with_a_reason_and_the_old_one_stays),
    };
    return cmocka_run_group_tests_name("fault_plan", tests, NULL, NULL);
}
