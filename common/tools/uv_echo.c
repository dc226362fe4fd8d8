/* uv-echo: an echo server on libuv, the bench's second reference point: what a widely used
 * event library makes of the same completion port (libuv's Windows back end is IOCP).
 *
 *   uv-echo [--port N] [--seconds N]
 *
 * Built only when the bench has built libuv (cmake/bench passes TUTORIAL_LIBUV_DIR). It
 * echoes bytes as they arrive, like bare-echo, and uses libuv as a careful user would: one
 * buffer per connection, a uv_try_write first (a small echo goes out at once, with no
 * request to allocate), and only when that cannot send everything, a uv_write of the rest
 * with reading paused until it completes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "tutorial/cli.h"

enum { BUFFER_SIZE = 65536 };

typedef struct connection {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    uv_write_t write;
    char buffer[BUFFER_SIZE];
} connection;

static uv_loop_t *loop;
static uv_tcp_t listener;
static uv_signal_t ctrl_c;
static uv_timer_t deadline;
static long served;

static void on_closed(uv_handle_t *handle)
{
    free(handle);
}

static void give_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    connection *c = (connection *)handle;
    *buf = uv_buf_init(c->buffer, BUFFER_SIZE);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *request, int status)
{
    connection *c = request->data;
    if (status != 0 || uv_read_start((uv_stream_t *)&c->tcp, give_buffer, on_read) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    connection *c = (connection *)stream;
    if (nread < 0) { /* UV_EOF, or a reset */
        uv_close((uv_handle_t *)stream, on_closed);
        return;
    }
    uv_buf_t rest = uv_buf_init(buf->base, (unsigned int)nread);
    int sent = nread > 0 ? uv_try_write(stream, &rest, 1) : 0;
    if (sent == (int)nread)
        return;
    if (sent > 0) { /* a part went out: queue the rest, and read no more until it has */
        rest.base += sent;
        rest.len -= (unsigned int)sent;
    }
    c->write.data = c;
    uv_read_stop(stream);
    if (uv_write(&c->write, stream, &rest, 1, on_written) != 0)
        uv_close((uv_handle_t *)stream, on_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status != 0)
        return;
    connection *c = malloc(sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    served++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, give_buffer, on_read);
}

/* Ctrl-C or --seconds: close every handle; the loop ends when none is left. */
static void close_one(uv_handle_t *handle, void *unused)
{
    (void)unused;
    if (uv_is_closing(handle))
        return;
    bool ours = handle == (uv_handle_t *)&listener || handle == (uv_handle_t *)&ctrl_c ||
                handle == (uv_handle_t *)&deadline;
    uv_close(handle, ours ? NULL : on_closed);
}

static void stop(void)
{
    uv_walk(loop, close_one, NULL);
}

static void on_ctrl_c(uv_signal_t *handle, int signal_number)
{
    (void)handle, (void)signal_number;
    stop();
}

static void on_deadline(uv_timer_t *handle)
{
    (void)handle;
    stop();
}

int main(int argc, char **argv)
{
    server_args args = {7011, 0};
    const cli_option options[] = {CLI_SERVER_OPTIONS(&args)};
    const cli_program program = {"uv-echo", "an echo server on libuv", options,
                                 sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);

    loop = uv_default_loop();
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", args.port, &address);
    uv_tcp_init(loop, &listener);
    int error = uv_tcp_bind(&listener, (const struct sockaddr *)&address, 0);
    if (error == 0)
        error = uv_listen((uv_stream_t *)&listener, SOMAXCONN, on_connection);
    int length = sizeof address;
    if (error == 0)
        error = uv_tcp_getsockname(&listener, (struct sockaddr *)&address, &length);
    if (error != 0) {
        fprintf(stderr, "uv-echo: listening on 127.0.0.1:%d: %s\n", args.port, uv_strerror(error));
        return 1;
    }
    uv_signal_init(loop, &ctrl_c);
    uv_signal_start(&ctrl_c, on_ctrl_c, SIGINT);
    uv_timer_init(loop, &deadline);
    if (args.seconds > 0)
        uv_timer_start(&deadline, on_deadline, (uint64_t)args.seconds * 1000, 0);
    cli_announce_listening(ntohs(address.sin_port));

    uv_run(loop, UV_RUN_DEFAULT);
    printf("served: connections=%ld\n", served);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
