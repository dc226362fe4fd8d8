/* A program that misuses memory on purpose, under the page heap, for test_page_heap.c:
 *   page-heap-child fine | use-after-free | overrun | double-free | thread-use-after-free */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "tutorial/page_heap.h"

typedef struct victim {
    char name[24];
    volatile long counter;
} victim;

static victim *make_victim(void)
{
    victim *v = malloc(sizeof *v);
    if (v == NULL)
        exit(1);
    strcpy(v->name, "a context");
    return v;
}

/* The same pointer, hidden from the compiler, which would refuse the misuse it can see. */
static victim *stale(victim *v)
{
    victim *volatile hidden = v;
    return hidden;
}

static DWORD WINAPI touch_later(void *argument)
{
    victim *v = argument;
    Sleep(50);
    v->counter++; /* after main has freed it */
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "fine";
    victim *v = make_victim();
    if (strcmp(what, "fine") == 0) {
        char *grown = realloc(malloc(10), 100000);
        void *zeroed = calloc(100, 8);
        free(grown);
        free(zeroed);
        free(v);
        printf("fine: %ld blocks from the page heap\n", page_heap_blocks());
        return page_heap_blocks() > 0 ? 0 : 1;
    }
    if (strcmp(what, "use-after-free") == 0) {
        victim *kept = stale(v);
        free(v);
        printf("%ld\n", kept->counter); /* a read of freed memory */
    } else if (strcmp(what, "overrun") == 0) {
        char *bytes = malloc(16);
        bytes[16] = 'x'; /* one past the end */
    } else if (strcmp(what, "double-free") == 0) {
        free(stale(v));
        free(stale(v));
    } else if (strcmp(what, "thread-use-after-free") == 0) {
        HANDLE thread = CreateThread(NULL, 0, touch_later, v, 0, NULL);
        free(v);
        WaitForSingleObject(thread, 5000);
    }
    printf("not stopped\n");
    return 0;
}
