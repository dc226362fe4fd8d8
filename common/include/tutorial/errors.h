/* Turning Windows error codes into words. */
#ifndef TUTORIAL_ERRORS_H
#define TUTORIAL_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <windows.h>

/* The symbolic name of the error codes this tutorial meets ("WSAECONNRESET",
 * "ERROR_OPERATION_ABORTED", ...), or "error N" for others. The result is static, or
 * written into buf. */
const char *error_name(DWORD code, char *buf, size_t size);

/* The code of a name error_name returns ("WSAECONNRESET" gives 10054); false for others. */
bool error_code_of(const char *name, DWORD *code);

/* The system's message for a code, without the trailing newline; where the system has none
 * (Wine 8 has none for the Winsock codes), the tutorial's own words for the codes it names. */
const char *error_message(DWORD code, char *buf, size_t size);

/* Prints "WHAT failed: NAME (CODE): MESSAGE" to stderr. */
void report_error(const char *what, DWORD code);

#endif
