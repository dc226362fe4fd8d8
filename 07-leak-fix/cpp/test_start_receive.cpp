/* Runs start_receive (start_receive.cpp) on the server side of real loopback connections
 * and checks that the context is freed whatever WSARecv answered: a started receive brings
 * exactly one packet, whose handler drops the completion's reference; a receive that failed
 * at once brings none, and leaves only the caller's reference. Registered with ctest as
 * step07.cpp_start_receive. A failed check prints a line; the program then returns 1. */
#include "start_receive.h" /* winsock2.h and windows.h, outside the extern "C" below */

extern "C" { /* the project's C plumbing */
#include "tutorial/fault_plan.h"
#include "tutorial/faults.h"
#include "tutorial/net.h"
}

#include <stdio.h>

static int failures;

static void check(bool ok, const char *what, const char *name)
{
    if (!ok) {
        printf("FAILED (%s): %s\n", name, what);
        failures++;
    }
}

/* What a connection's client does before the server starts its receive. */
enum class client_action { hard_reset, send_later };

static void run_case(const char *name, client_action action, HANDLE port)
{
    unsigned short bound = 0;
    SOCKET listener = net_listen_loopback(0, &bound);
    SOCKET client = net_connect_loopback(bound);
    SOCKET server = accept(listener, nullptr, nullptr);
    closesocket(listener);
    io_context *context = context_new(); /* the owner's reference */
    if (client == INVALID_SOCKET || server == INVALID_SOCKET || context == nullptr ||
        CreateIoCompletionPort(reinterpret_cast<HANDLE>(server), port, 0, 0) == nullptr) {
        check(false, "a loopback connection tied to the port, and a context", name);
        closesocket(client);
        closesocket(server);
        if (context != nullptr)
            context_release(context);
        return;
    }
    if (action == client_action::hard_reset) {
        net_hard_reset(client); /* SO_LINGER {1, 0}, then closesocket: an RST */
        client = INVALID_SOCKET;
        WSAPOLLFD poll = {server, POLLRDNORM, 0};
        WSAPoll(&poll, 1, 2000); /* until the reset has reached the server's socket */
    }

    DWORD error = start_receive(server, context);
    if (action == client_action::send_later && client != INVALID_SOCKET)
        net_send_all(client, "x", 1);

    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = nullptr;
    BOOL ok = GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, error == 0 ? 5000 : 300);
    DWORD packet_error = ok ? 0 : GetLastError();
    if (error != 0) {
        printf("%s: failed at once with %lu; packet: %s\n", name, error,
               overlapped == nullptr ? "none" : "one (wrong)");
        check(overlapped == nullptr, "no packet after a failure at once", name);
        check(InterlockedCompareExchange(&context->references, 0, 0) == 1,
              "only the owner's reference left", name);
    } else {
        printf("%s: started; its packet: %lu bytes, error %lu\n", name, bytes, packet_error);
        check(overlapped == &context->overlapped, "one packet for the started receive", name);
        if (overlapped == &context->overlapped)
            context_release(context); /* the handler: the completion's reference */
    }
    context_release(context); /* the owner's dispose */
    check(live_contexts() == 0, "every context freed", name);
    closesocket(server);
    if (client != INVALID_SOCKET)
        closesocket(client);
}

int main()
{
    if (!net_startup())
        return 1;
    HANDLE port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);

    /* The bare imports: whatever this system answers (Windows fails the receive at once
     * with WSAECONNRESET; Wine 8 reads 0 bytes). */
    run_case("reset, this system's answer", client_action::hard_reset, port);
    run_case("a receive that waits for its data", client_action::send_later, port);

    /* Through the import layer (tutorial/faults.h), from outside start_receive: Windows'
     * answer under Wine too, then a failure at once forced by the fault plan. */
    faults_hook_imports();
    faults_set_windows_resets(true);
    run_case("reset, Windows' answer", client_action::hard_reset, port);
    char why[200] = "";
    if (!fault_plan_set("receive#1=fail:WSAECONNRESET", why, sizeof why))
        check(false, why, "the fault plan");
    run_case("fault plan receive#1=fail:WSAECONNRESET", client_action::send_later, port);
    check(fault_plan_fired("receive") == 1, "the plan's rule fired", "the fault plan");
    fault_plan_set(nullptr, why, sizeof why);

    CloseHandle(port);
    WSACleanup();
    printf("%s\n", failures == 0 ? "every context freed" : "FAILED");
    return failures == 0 ? 0 : 1;
}
