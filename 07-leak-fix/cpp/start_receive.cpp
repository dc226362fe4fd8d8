/* Step 07's fix in C++: the completion's reference to a context is held by a guard, and is
 * handed to the completion only when WSARecv said that a packet will come. On every other
 * path the guard's destructor gives it back. Chapter 7, "The same rule in C++". */
#include "start_receive.h"

#include <stdlib.h>

static volatile LONG live;

io_context *context_new() noexcept
{
    io_context *context = static_cast<io_context *>(calloc(1, sizeof(io_context)));
    if (context == nullptr)
        return nullptr;
    context->buffer.buf = context->bytes;
    context->buffer.len = sizeof context->bytes;
    context->references = 1;
    InterlockedIncrement(&live);
    return context;
}

void context_release(io_context *context) noexcept
{
    if (InterlockedDecrement(&context->references) == 0) {
        free(context);
        InterlockedDecrement(&live);
    }
}

LONG live_contexts() noexcept
{
    return InterlockedCompareExchange(&live, 0, 0);
}

namespace {

/* snippet:begin guard */
/* One reference to a context, taken at construction. The destructor drops it, on every
 * way out of the scope, unless hand_to_completion() has given it away. */
class completion_reference {
public:
    explicit completion_reference(io_context *context) noexcept : context_(context)
    {
        InterlockedIncrement(&context_->references);
    }
    ~completion_reference()
    {
        if (context_ != nullptr)
            context_release(context_);
    }
    completion_reference(const completion_reference &) = delete;
    completion_reference &operator=(const completion_reference &) = delete;

    /* The handoff: the packet's handler drops the reference now. Forget the context at
     * once: the packet may already have been handled, on another thread. */
    void hand_to_completion() noexcept { context_ = nullptr; }

private:
    io_context *context_;
};
/* snippet:end guard */

} // namespace

/* snippet:begin start_receive */
DWORD start_receive(SOCKET s, io_context *context) noexcept
{
    /* Taken BEFORE the call: once WSARecv is called, a worker may dequeue the packet and
     * drop the completion's reference before WSARecv has even returned. */
    completion_reference for_completion(context);
    ZeroMemory(&context->overlapped, sizeof context->overlapped);
    DWORD flags = 0;
    int result = WSARecv(s, &context->buffer, 1, nullptr, &flags, &context->overlapped, nullptr);
    DWORD error = result == 0 ? 0 : static_cast<DWORD>(WSAGetLastError());
    if (error == 0 || error == WSA_IO_PENDING) {
        /* Started: a packet will come, even for a success at once (unless the socket has
         * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, which this one does not). */
        for_completion.hand_to_completion();
        return 0;
    }
    /* Never started: no packet will ever come. The return runs the destructor, which drops
     * the reference no handler ever will: this is step 07's fix. */
    return error;
}
/* snippet:end start_receive */
