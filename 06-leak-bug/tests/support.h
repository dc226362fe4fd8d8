/* Test support of this step, shared by its tests (tests/) and its exercise checkers
 * (exercises/): one completion port, the step's socket objects on it, the registry's totals
 * and leak report read back. Steps 06 and 07 have the same file. */
#ifndef STEP_TEST_SUPPORT_H
#define STEP_TEST_SUPPORT_H

#include "async_socket.h"
#include "registry.h"
#include "server.h"
#include "tutorial/testkit.h"

/* The completion port the sockets of connected_socket are attached to. */
extern HANDLE test_port;

/* Per-test setup and teardown: open test_port; clear the fault plan (a test may have set
 * one) and close test_port. */
int test_port_open(void **state);
int test_port_close(void **state);

/* Group setup and teardown: test_port_open / test_port_close plus Winsock up / down, with
 * the import layer's stand-ins installed (tutorial/faults.h). */
int test_port_and_winsock_up(void **state);
int test_port_and_winsock_down(void **state);

/* The registry's totals now (contexts, sockets, ...), to compare before and after. */
registry_totals totals(void);

/* The counters of a running server, now. */
server_counters counters_of(server *srv);

/* Waits, bounded, until `connections` connections have ended (each ends as a reset or an
 * orderly close; an accept that failed counts as a reset), so that the counters are final.
 * Returns false when timeout_ms pass first. */
bool wait_until_ended(server *srv, long connections, DWORD timeout_ms);

/* The server side of a loopback connection as an async_socket with buffers of
 * buffer_size bytes, attached to test_port; the client side goes to *peer. */
async_socket *connected_socket(SOCKET *peer, DWORD buffer_size);

/* As connected_socket, with the peer's data already waiting to be read on the server side
 * (so a receive started now succeeds at once). */
async_socket *connected_socket_with_data(SOCKET *peer, const char *data);

/* A socket whose receive is in progress, with no real I/O behind it: the plan's "lost"
 * reports the receive pending without making the call, and no packet will ever come. The
 * caller completes or disposes it, as the test needs. */
async_socket *socket_with_a_receive_in_progress(void);

/* The server side of a loopback connection (as connected_socket) whose peer has reset it;
 * the reset has arrived when this returns. */
async_socket *connection_reset_by_peer(void);

/* The next completion packet on test_port: its OVERLAPPED (the test fails when none comes
 * within TK_PROMPT_MS), its bytes and its error (0 when it succeeded). */
OVERLAPPED *next_completion(DWORD *bytes, DWORD *error);

/* For a receive pending when its socket was disposed: its aborted packet comes (dispose's
 * CancelIoEx), completing the context frees it, and then nothing is left compared with
 * before. */
void assert_the_aborted_completion_frees(io_context *in, registry_totals before);

/* For a receive started on connected_socket_with_data(peer, data): its packet comes with
 * the data, the context stays alive (the socket still uses it), and after dispose nothing
 * is left compared with before. Closes peer. */
void assert_the_receive_completes_with(async_socket *s, SOCKET peer, const char *data,
                                       registry_totals before);

/* The registry's leak report as text, cut to size - 1 characters. */
void read_report(char *report, size_t size);

/* The operation the report's context lines name: OP_NONE when it lists no context, -1
 * when its contexts show different operations. */
int operation_in_report(const char *report);

/* The name of an operation_in_report result. */
const char *reported_operation_name(int operation);

/* Makes plan the process's fault plan (tutorial/fault_plan.h); the test fails when it is
 * not a plan. NULL clears it. */
void set_plan(const char *plan);

/* Shapes the receives of the server under test, for tests of how it takes frames out of
 * what arrives. A client that sends its chunks with TCP_NODELAY and waits until each has
 * arrived still leaves the cut to the timing of the loopback and of Wine; a cap on what
 * each WSARecv may ask for does not.
 * - plan_with_receives_cut(plan, n): plan, and every other WSARecv asks for at most n
 *   bytes (the plan's "receive#*=short:n", after plan's own rules; 0: no cap).
 * - next_receive_waits_for(n): the next WSARecv first waits until the socket holds n bytes
 *   (FIONREAD), so that one receive finds them all; bounded by TK_PROMPT_MS, after which it
 *   goes ahead (it runs on a server thread, where a test cannot fail: the test checks the
 *   receive count instead). It stands in for WSARecv itself, over the import layer. */
void plan_with_receives_cut(const char *plan, DWORD at_most);
void next_receive_waits_for(DWORD bytes);

/* Fills the connection until the peer's window and our send buffer are full (the peer
 * reads nothing), so that the next overlapped send has to wait. */
void fill_until_sends_wait(SOCKET s);

/* The peer reads until the pending send of s has completed, then the send's packet is taken
 * from test_port (the test still has to complete its context). */
void let_the_send_complete(async_socket *s, SOCKET peer);

#endif
