/* Command-line parsing shared by every program of the tutorial.
 *
 * Every server accepts the same contract: --port N (0 picks a free port), --seconds N
 * (serve N seconds, then shut down gracefully; 0 serves until Ctrl-C). Once it listens, its
 * first line on stdout is exactly "listening on 127.0.0.1:PORT". A bad flag or value
 * prints what is wrong and a usage line on stderr, and the program exits with status 2.
 */
#ifndef TUTORIAL_CLI_H
#define TUTORIAL_CLI_H

#include <stdbool.h>
#include <stddef.h>

enum { CLI_EXIT_USAGE = 2 };

typedef enum {
    CLI_INT,  /* --name N, N between min and max; target is an int*        */
    CLI_FLAG, /* --name, no value; target is a bool*                         */
    CLI_TEXT  /* --name TEXT; target is a const char* (points into argv)     */
} cli_kind;

typedef struct cli_option {
    const char *name;       /* "--port"                                      */
    cli_kind kind;
    const char *value_name; /* what the usage line shows: "N", "FILE"        */
    long min, max;          /* the accepted range of a CLI_INT               */
    void *target;           /* where the value goes                          */
    const char *help;       /* one line for --help                           */
} cli_option;

typedef enum { CLI_OK, CLI_HELP_SHOWN, CLI_BAD_USAGE } cli_result;

typedef struct cli_program {
    const char *name;    /* "step04-server"                                 */
    const char *summary; /* one line: what the program does                 */
    const cli_option *options;
    size_t option_count;
} cli_program;

/* Parses argv into the options' targets, which hold their defaults beforehand. On
 * CLI_BAD_USAGE it has printed the problem and the usage line on stderr. */
cli_result cli_parse(const cli_program *program, int argc, char **argv);

/* The exit status that goes with a parse result that is not CLI_OK: 0 after --help,
 * CLI_EXIT_USAGE (2) after bad input. */
int cli_exit_status(cli_result result);

/* Prints "usage: NAME [--port N] ..." to stderr. */
void cli_print_usage(const cli_program *program);

/* Every server's common options. */
typedef struct server_args {
    int port;
    int seconds;
} server_args;

#define CLI_SERVER_OPTIONS(args)                                                          \
    {"--port", CLI_INT, "N", 0, 65535, &(args)->port,                                  \
     "TCP port on 127.0.0.1 to listen on (0: any free port)"},                           \
    {"--seconds", CLI_INT, "N", 0, 86400, &(args)->seconds,                              \
     "serve N seconds, then shut down gracefully (0: until Ctrl-C)"}

/* Prints the contract's first line, "listening on 127.0.0.1:PORT", and flushes it. */
void cli_announce_listening(unsigned short port);

#endif
