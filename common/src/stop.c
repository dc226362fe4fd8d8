#include "tutorial/stop.h"

static HANDLE ctrl_c_event;
static INIT_ONCE ctrl_c_once = INIT_ONCE_STATIC_INIT;

/* Runs on a thread the system creates for the console event. Returning TRUE tells the
 * system the event is handled, so the process is not killed: the server's own thread
 * sees the event and shuts down in order. */
static BOOL WINAPI on_console_event(DWORD type)
{
    (void)type;
    SetEvent(ctrl_c_event);
    return TRUE;
}

static BOOL CALLBACK install_handler(PINIT_ONCE once, PVOID parameter, PVOID *context)
{
    (void)once, (void)parameter, (void)context;
    ctrl_c_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    return ctrl_c_event != NULL && SetConsoleCtrlHandler(on_console_event, TRUE);
}

HANDLE stop_event(void)
{
    InitOnceExecuteOnce(&ctrl_c_once, install_handler, NULL, NULL);
    return ctrl_c_event;
}

stop_reason stop_wait(int seconds)
{
    DWORD timeout = seconds > 0 ? (DWORD)seconds * 1000u : INFINITE;
    DWORD result = WaitForSingleObject(stop_event(), timeout);
    return result == WAIT_OBJECT_0 ? STOP_BY_CTRL_C : STOP_BY_TIMEOUT;
}
