/* The prediction files of the predict exercises (tutorial/prediction.h): what they may hold,
 * and the error a learner gets for anything else. */
#include <string.h>

#include "tutorial/prediction.h"
#include "tutorial/testkit.h"

static const char *const clients_only[] = {"clients", NULL};
static const char *const clients_and_stack[] = {"clients", "stack_kib", NULL};
static const prediction_spec spec[] = {
    {"leaked_sockets", NULL},
    {"new_threads", clients_only},
    {"reserved_kib", clients_and_stack},
};
enum { ANSWERS = sizeof spec / sizeof spec[0] };

static char why[512];

static bool parse(const char *text, prediction *p)
{
    why[0] = '\0';
    return prediction_parse(text, "prediction.txt", spec, ANSWERS, p, why, sizeof why);
}

static long long value(const prediction *p, const char *name, long long a, long long b)
{
    long long values[2] = {a, b}, result = 0;
    assert_true(prediction_value(p, name, values, &result, why, sizeof why));
    return result;
}

static void refused(const char *text, const char *expected_words)
{
    prediction p;
    assert_false(parse(text, &p));
    if (strstr(why, expected_words) == NULL)
        fail_msg("for %s: expected \"%s\" in the error, got: %s", text, expected_words, why);
}

static void numbers_and_formulas_are_read_and_evaluated(void **state)
{
    (void)state;
    prediction p;
    assert_true(parse("# a comment\n\nleaked_sockets = 9   # nine\n"
                      "new_threads = clients + 1\n"
                      "reserved_kib = clients * (stack_kib + 4) / 3 - -2\n",
                      &p));
    assert_int_equal(value(&p, "leaked_sockets", 0, 0), 9);
    assert_int_equal(value(&p, "new_threads", 40, 0), 41);
    assert_int_equal(value(&p, "reserved_kib", 10, 1020), 10 * 1024 / 3 + 2);
}

static void windows_line_ends_and_spaces_do_not_matter(void **state)
{
    (void)state;
    prediction p;
    assert_true(parse("  leaked_sockets=9 \t\r\nnew_threads=clients\r\nreserved_kib = 0", &p));
    assert_int_equal(value(&p, "new_threads", 7, 0), 7);
}

static void a_file_as_handed_out_is_no_prediction(void **state)
{
    (void)state;
    refused("leaked_sockets = ?\nnew_threads = ?\nreserved_kib = ?\n", "is still ?");
}

static void anything_but_an_answer_a_comment_or_a_blank_is_refused(void **state)
{
    (void)state;
    refused("leaked_sockets 9\n", "each line must be blank, a comment");
    refused("int leaked_sockets(void) { return 9; }\n", "is not an answer");
    refused("#define LEAKED 9\nleaked_sockets = 9\n", "\"new_threads = ...\" is missing");
    refused("leaked_sockets = 9;\nnew_threads = 1\nreserved_kib = 1\n", "\";\" where");
    refused("leaked_sockets = nine\nnew_threads = 1\nreserved_kib = 1\n",
            "\"nine\" is not one of this answer's inputs");
    refused("leaked_sockets = 9\nnew_threads = stack_kib\nreserved_kib = 1\n",
            "\"stack_kib\" is not one of this answer's inputs");
    refused("leaked_sockets = 9\nnew_threads = (clients\nreserved_kib = 1\n", "without its )");
    refused("leaked_sockets = 9\nnew_threads = clients +\nreserved_kib = 1\n", "formula ends");
    refused("leaked_sockets = 9\nleaked_sockets = 8\n", "answered twice");
    refused("leaked_sockets = 9\nnew_threads = 1\n", "\"reserved_kib = ...\" is missing");
    refused("sockets = 9\n", "\"sockets\" is not one of the answers");
    refused("leaked_sockets = 99999999999999999\n", "over 10^15");
}

static void what_a_formula_cannot_compute_is_said(void **state)
{
    (void)state;
    prediction p;
    assert_true(parse("leaked_sockets = 1\nnew_threads = 100 / clients\n"
                      "reserved_kib = clients * stack_kib * stack_kib\n",
                      &p));
    long long values[2] = {0, 0}, result = 0;
    assert_false(prediction_value(&p, "new_threads", values, &result, why, sizeof why));
    assert_non_null(strstr(why, "division by zero"));
    values[0] = 1000000;
    values[1] = 1000000;
    assert_false(prediction_value(&p, "reserved_kib", values, &result, why, sizeof why));
    assert_non_null(strstr(why, "over 10^15"));
    assert_int_equal(value(&p, "new_threads", 7, 0), 14); /* the remainder dropped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_and_formulas_are_read_and_evaluated),
        cmocka_unit_test(windows_line_ends_and_spaces_do_not_matter),
        cmocka_unit_test(a_file_as_handed_out_is_no_prediction),
        cmocka_unit_test(anything_but_an_answer_a_comment_or_a_blank_is_refused),
        cmocka_unit_test(what_a_formula_cannot_compute_is_said),
    };
    return cmocka_run_group_tests_name("prediction files", tests, NULL, NULL);
}
