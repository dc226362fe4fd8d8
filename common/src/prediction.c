#include "tutorial/prediction.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 1000000000000000LL /* 10^15: far past any count an exercise measures */

static const char FORMAT[] =
    "each line must be blank, a comment starting with #, or one answer such as "
    "\"leaked_sockets = 9\" (a whole number, or a formula of its inputs with + - * / and "
    "parentheses)";

static bool failed(char *why, size_t why_size, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(why, why_size, format, arguments);
    va_end(arguments);
    return false;
}

/* ---- formulas ---------------------------------------------------------------------- */

typedef struct evaluation {
    const char *at;
    const char *const *inputs;
    const long long *values; /* NULL: only check the formula, every input counts as 1 */
    char *why;
    size_t why_size;
    bool ok;
} evaluation;

static void skip_spaces(evaluation *e)
{
    while (*e->at == ' ' || *e->at == '\t')
        e->at++;
}

static long long fail_evaluation(evaluation *e, const char *format, ...)
{
    if (e->ok) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(e->why, e->why_size, format, arguments);
        va_end(arguments);
    }
    e->ok = false;
    return 0;
}

static long long checked(evaluation *e, long long value)
{
    if (value > LIMIT || value < -LIMIT)
        return fail_evaluation(e, "a number over 10^15 came out");
    return value;
}

static long long expression(evaluation *e);

static long long input_value(evaluation *e, const char *name, size_t length)
{
    for (int i = 0; e->inputs != NULL && e->inputs[i] != NULL; i++) {
        if (strlen(e->inputs[i]) == length && strncmp(e->inputs[i], name, length) == 0)
            return e->values != NULL ? e->values[i] : 1;
    }
    return fail_evaluation(e, "\"%.*s\" is not one of this answer's inputs",
                           (int)(length < PREDICTION_MAX_NAME ? length : PREDICTION_MAX_NAME),
                           name);
}

static long long factor(evaluation *e)
{
    skip_spaces(e);
    if (*e->at == '(') {
        e->at++;
        long long value = expression(e);
        skip_spaces(e);
        if (*e->at != ')')
            return fail_evaluation(e, "a ( without its )");
        e->at++;
        return value;
    }
    if (*e->at == '-') {
        e->at++;
        return -factor(e);
    }
    if (isdigit((unsigned char)*e->at)) {
        long long value = 0;
        while (isdigit((unsigned char)*e->at)) {
            value = value * 10 + (*e->at++ - '0');
            if (value > LIMIT)
                return fail_evaluation(e, "a number over 10^15");
        }
        return value;
    }
    if (isalpha((unsigned char)*e->at) || *e->at == '_') {
        const char *name = e->at;
        while (isalnum((unsigned char)*e->at) || *e->at == '_')
            e->at++;
        return input_value(e, name, (size_t)(e->at - name));
    }
    if (*e->at == '\0')
        return fail_evaluation(e, "the formula ends where a number, an input or ( should be");
    return fail_evaluation(e, "\"%c\" where a number, an input or ( should be", *e->at);
}

static long long term(evaluation *e)
{
    long long value = factor(e);
    for (;;) {
        skip_spaces(e);
        char operation = *e->at;
        if (operation != '*' && operation != '/')
            return value;
        e->at++;
        long long right = factor(e);
        if (!e->ok)
            return 0;
        if (operation == '*') {
            if (right != 0 && (value > LIMIT / llabs(right) || value < -LIMIT / llabs(right)))
                return fail_evaluation(e, "a number over 10^15 came out");
            value *= right;
        } else if (right == 0) {
            if (e->values != NULL)
                return fail_evaluation(e, "a division by zero");
        } else {
            value /= right;
        }
    }
}

static long long expression(evaluation *e)
{
    long long value = term(e);
    for (;;) {
        skip_spaces(e);
        char operation = *e->at;
        if (operation != '+' && operation != '-')
            return value;
        e->at++;
        long long right = term(e);
        value = checked(e, operation == '+' ? value + right : value - right);
    }
}

static bool evaluate(const char *formula, const char *const *inputs, const long long *values,
                     long long *result, char *why, size_t why_size)
{
    evaluation e = {formula, inputs, values, why, why_size, true};
    long long value = expression(&e);
    skip_spaces(&e);
    if (e.ok && *e.at != '\0') {
        fail_evaluation(&e, "\"%c\" where + - * / or the end should be", *e.at);
    }
    if (e.ok && result != NULL)
        *result = value;
    return e.ok;
}

/* ---- the file ------------------------------------------------------------------------ */

static int answer_index(const prediction_spec *spec, int count, const char *name)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(spec[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* Takes the spaces off both ends, and the \r of a line saved with Windows line ends. */
static void trim(char *text)
{
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        text[--length] = '\0';
    size_t start = 0;
    while (isspace((unsigned char)text[start]))
        start++;
    memmove(text, text + start, length - start + 1);
}

static bool is_name(const char *text)
{
    if (!isalpha((unsigned char)*text) && *text != '_')
        return false;
    for (; *text != '\0'; text++) {
        if (!isalnum((unsigned char)*text) && *text != '_')
            return false;
    }
    return true;
}

/* One line of the file: an answer goes into out. */
static bool parse_line(char *line, int number, const char *file, prediction *out, bool *seen,
                       char *why, size_t why_size)
{
    char *comment = strchr(line, '#');
    if (comment != NULL)
        *comment = '\0';
    trim(line);
    if (line[0] == '\0')
        return true;
    char *equals = strchr(line, '=');
    if (equals == NULL)
        return failed(why, why_size, "%s, line %d: \"%s\" is not an answer: %s", file, number,
                      line, FORMAT);
    *equals = '\0';
    char *name = line, *formula = equals + 1;
    trim(name);
    trim(formula);
    int index = answer_index(out->spec, out->count, name);
    if (!is_name(name) || index < 0)
        return failed(why, why_size, "%s, line %d: \"%s\" is not one of the answers this "
                      "exercise asks for", file, number, name);
    if (seen[index])
        return failed(why, why_size, "%s, line %d: \"%s\" is answered twice", file, number,
                      name);
    seen[index] = true;
    if (strcmp(formula, "?") == 0)
        return failed(why, why_size, "%s, line %d: \"%s\" is still ?: write your answer in its "
                      "place", file, number, name);
    if (strlen(formula) >= PREDICTION_MAX_FORMULA)
        return failed(why, why_size, "%s, line %d: the answer is longer than %d characters",
                      file, number, PREDICTION_MAX_FORMULA - 1);
    char problem[160];
    if (!evaluate(formula, out->spec[index].inputs, NULL, NULL, problem, sizeof problem)) {
        const char *const *inputs = out->spec[index].inputs;
        return failed(why, why_size, "%s, line %d: \"%s\" cannot be read: %s (%s: %s)", file,
                      number, formula, problem,
                      inputs != NULL && inputs[0] != NULL ? "a whole number, or a formula of "
                                                            "its inputs"
                                                          : "a whole number",
                      name);
    }
    snprintf(out->formula[index], sizeof out->formula[index], "%s", formula);
    return true;
}

bool prediction_parse(const char *text, const char *name, const prediction_spec *spec,
                      int count, prediction *out, char *why, size_t why_size)
{
    if (count > PREDICTION_MAX_ANSWERS)
        return failed(why, why_size, "the checker asks for more than %d answers",
                      PREDICTION_MAX_ANSWERS);
    memset(out, 0, sizeof *out);
    out->spec = spec;
    out->count = count;
    bool seen[PREDICTION_MAX_ANSWERS] = {false};
    int number = 0;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t length = end != NULL ? (size_t)(end - line) : strlen(line);
        char copy[512];
        number++;
        if (length >= sizeof copy)
            return failed(why, why_size, "%s, line %d: longer than %d characters", name,
                          number, (int)sizeof copy - 1);
        memcpy(copy, line, length);
        copy[length] = '\0';
        if (!parse_line(copy, number, name, out, seen, why, why_size))
            return false;
        line += length + (end != NULL);
    }
    for (int i = 0; i < count; i++) {
        if (!seen[i])
            return failed(why, why_size, "%s: the answer \"%s = ...\" is missing", name,
                          spec[i].name);
    }
    return true;
}

bool prediction_read(const char *path, const char *name, const prediction_spec *spec, int count,
                     prediction *out, char *why, size_t why_size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return failed(why, why_size, "cannot open %s (as %s)", name, path);
    static char text[16384];
    size_t length = fread(text, 1, sizeof text - 1, file);
    bool whole = feof(file) != 0;
    fclose(file);
    if (!whole)
        return failed(why, why_size, "%s is longer than %d bytes", name, (int)sizeof text - 1);
    text[length] = '\0';
    if (strlen(text) != length)
        return failed(why, why_size, "%s holds a NUL byte: it must be text", name);
    return prediction_parse(text, name, spec, count, out, why, why_size);
}

bool prediction_value(const prediction *p, const char *name, const long long *values,
                      long long *result, char *why, size_t why_size)
{
    int index = answer_index(p->spec, p->count, name);
    if (index < 0)
        return failed(why, why_size, "the checker asks for \"%s\", which it did not read",
                      name);
    char problem[160];
    if (!evaluate(p->formula[index], p->spec[index].inputs, values, result, problem,
                  sizeof problem))
        return failed(why, why_size, "%s = %s: %s", name, p->formula[index], problem);
    return true;
}
