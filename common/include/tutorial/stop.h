/* Graceful shutdown for every server: Ctrl-C, or --seconds running out. */
#ifndef TUTORIAL_STOP_H
#define TUTORIAL_STOP_H

#include <windows.h>

typedef enum { STOP_BY_CTRL_C, STOP_BY_TIMEOUT } stop_reason;

/* Installs a console control handler that turns Ctrl-C, Ctrl-Break and closing the
 * console into a manual-reset event, and returns that event (for loops that wait on it
 * beside other handles). Safe to call more than once. */
HANDLE stop_event(void);

/* Blocks until Ctrl-C or until `seconds` pass (0: no time limit). */
stop_reason stop_wait(int seconds);

#endif
