/* The fault plan's language: rules are parsed, bad plans are refused with a reason, and
 * each call of an operation gets the outcome its rule names. */
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
        "published#1=delay:5,receive#1=now,send-done#1=eof");
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
    fault_outcome pause = fault_plan_take("published");
    assert_int_equal(pause.kind, FAULT_DELAY);
    assert_int_equal(pause.value, 5);
    assert_int_equal(fault_plan_take("receive").kind, FAULT_NOW);
    assert_int_equal(fault_plan_take("send-done").kind, FAULT_EOF);
}

static void setting_a_plan_again_starts_the_counts_anew_and_null_clears_it(void **state)
{
    (void)state;
    set("receive#1=fail:64");
    assert_int_equal(fault_plan_take("receive").kind, FAULT_FAIL);
    set("receive#1=fail:64");
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
        cmocka_unit_test(setting_a_plan_again_starts_the_counts_anew_and_null_clears_it),
        cmocka_unit_test(a_bad_plan_is_refused_with_a_reason_and_the_old_one_stays),
    };
    return cmocka_run_group_tests_name("fault_plan", tests, NULL, NULL);
}
