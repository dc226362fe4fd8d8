/* A predict exercise's answers are data, never code: a text file that the checker reads and
 * evaluates, so nothing a learner writes for a prediction is compiled or run. Each line is
 * blank, a comment (from # to the end of the line), or one answer:
 *
 *     leaked_sockets = 9
 *     new_threads = clients + 1        (a formula over the inputs the exercise names)
 *     leaked_sockets = ?               (not answered yet: as the file is handed out)
 *
 * A formula holds whole numbers, the answer's inputs, + - * /, and parentheses; / divides
 * and drops the remainder, as C's integer division does. */
#ifndef TUTORIAL_PREDICTION_H
#define TUTORIAL_PREDICTION_H

#include <stdbool.h>
#include <stddef.h>

enum { PREDICTION_MAX_ANSWERS = 16, PREDICTION_MAX_NAME = 48, PREDICTION_MAX_FORMULA = 200 };

/* One answer the checker expects: its name, and the inputs its formula may use (a list that
 * ends with NULL; NULL or an empty list: a plain number). */
typedef struct prediction_spec {
    const char *name;
    const char *const *inputs;
} prediction_spec;

typedef struct prediction {
    const prediction_spec *spec;
    int count; /* the answers of spec, in its order */
    char formula[PREDICTION_MAX_ANSWERS][PREDICTION_MAX_FORMULA];
} prediction;

/* Reads the prediction file at path for the answers of spec (count of them); name is the
 * file as the learner knows it, for the messages. False, with a sentence in why that says
 * what is wrong and what the file must hold, when the file cannot
 * be read, a line is not an answer, a comment or blank, an answer is missing, repeated, not
 * one the exercise asks for or still "?", or a formula does not parse or uses a name that is
 * not one of its answer's inputs. */
bool prediction_read(const char *path, const char *name, const prediction_spec *spec, int count,
                     prediction *out, char *why, size_t why_size);

/* The same, from text already in memory (name stands for the file in messages). */
bool prediction_parse(const char *text, const char *name, const prediction_spec *spec,
                      int count, prediction *out, char *why, size_t why_size);

/* The answer named name, its formula evaluated with values[i] for its spec's inputs[i]. False,
 * with why, on a division by zero or a number too large (over 10^15). */
bool prediction_value(const prediction *p, const char *name, const long long *values,
                      long long *result, char *why, size_t why_size);

#endif
