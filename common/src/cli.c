#include "tutorial/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const cli_option *find_option(const cli_program *program, const char *name)
{
    for (size_t i = 0; i < program->option_count; i++) {
        if (strcmp(program->options[i].name, name) == 0)
            return &program->options[i];
    }
    return NULL;
}

void cli_print_usage(const cli_program *program)
{
    fprintf(stderr, "usage: %s", program->name);
    for (size_t i = 0; i < program->option_count; i++) {
        const cli_option *option = &program->options[i];
        if (option->kind == CLI_FLAG)
            fprintf(stderr, " [%s]", option->name);
        else
            fprintf(stderr, " [%s %s]", option->name, option->value_name);
    }
    fprintf(stderr, "\n");
}

static void print_help(const cli_program *program)
{
    printf("%s: %s\n\nusage: %s [options]\n\n", program->name, program->summary, program->name);
    for (size_t i = 0; i < program->option_count; i++) {
        const cli_option *option = &program->options[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", option->name,
                 option->kind == CLI_FLAG ? "" : " ",
                 option->kind == CLI_FLAG ? "" : option->value_name);
        printf("  %-22s %s\n", left, option->help);
    }
    printf("  %-22s %s\n", "--help", "show this help");
}

static cli_result bad_usage(const cli_program *program, const char *problem, const char *what)
{
    fprintf(stderr, "%s: %s%s\n", program->name, problem, what);
    cli_print_usage(program);
    return CLI_BAD_USAGE;
}

static bool parse_long(const char *text, long *value)
{
    char *end = NULL;
    errno = 0;
    long parsed = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return false;
    *value = parsed;
    return true;
}

static cli_result store_value(const cli_program *program, const cli_option *option,
                              const char *text)
{
    if (option->kind == CLI_TEXT) {
        *(const char **)option->target = text;
        return CLI_OK;
    }
    long value = 0;
    if (!parse_long(text, &value) || value < option->min || value > option->max) {
        fprintf(stderr, "%s: %s wants a whole number from %ld to %ld, not '%s'\n",
                program->name, option->name, option->min, option->max, text);
        cli_print_usage(program);
        return CLI_BAD_USAGE;
    }
    *(int *)option->target = (int)value;
    return CLI_OK;
}

cli_result cli_parse(const cli_program *program, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(program);
            return CLI_HELP_SHOWN;
        }
        const cli_option *option = find_option(program, arg);
        if (option == NULL)
            return bad_usage(program, "unknown option ", arg);
        if (option->kind == CLI_FLAG) {
            *(bool *)option->target = true;
            continue;
        }
        if (i + 1 >= argc)
            return bad_usage(program, "missing value after ", arg);
        cli_result result = store_value(program, option, argv[++i]);
        if (result != CLI_OK)
            return result;
    }
    return CLI_OK;
}

int cli_exit_status(cli_result result)
{
    return result == CLI_HELP_SHOWN ? 0 : CLI_EXIT_USAGE;
}

void cli_announce_listening(unsigned short port)
{
    printf("listening on 127.0.0.1:%u\n", (unsigned)port);
    fflush(stdout);
}
