/* MSVC mode (./tutorial msvc-check): a stand-in for the static part of the C runtime that
 * Visual Studio links into every program (the startup objects of msvcrt.lib), for a build
 * whose DLL part is Wine's ucrtbase.dll. It is not the tutorial's code and teaches nothing:
 * just enough for the programs and tests to start, keep thread-local variables and check
 * their /GS cookies. (__chkstk, the stack probe, comes with Wine's kernel32.lib.)
 * No headers: it is compiled on its own, before the SDK folder is ready. */

/* As msvcrt.lib does: the programs also need the UCRT's import library. */
#pragma comment(lib, "ucrt")

typedef unsigned long long tutorial_uptr;

int __cdecl _configure_narrow_argv(int mode);
int __cdecl _initialize_narrow_environment(void);
char **__cdecl _get_initial_narrow_environment(void);
int *__cdecl __p___argc(void);
char ***__cdecl __p___argv(void);
void __cdecl _set_app_type(int type);
void __cdecl exit(int status);
void __cdecl abort(void);
int __cdecl main(int argc, char **argv, char **env);

/* The compiler references _fltused from every object that uses floating point. */
int _fltused = 0x9875;

/* /GS: each protected frame saves the cookie XORed with its frame pointer and checks it on
 * return. A fixed value is enough here: this build looks for compile errors, not attacks. */
tutorial_uptr __security_cookie = 0x2B992DDFA232ull;

void __cdecl __security_check_cookie(tutorial_uptr cookie)
{
    if (cookie != __security_cookie) {
        abort();
    }
}

/* Thread-local variables (cmocka has some): the compiler puts their initial values in
 * .tls$ sections, which the linker sorts between .tls and .tls$ZZZ; the loader reads this
 * directory (the PE format's IMAGE_TLS_DIRECTORY64), finds _tls_used by name, makes each
 * thread's copy and stores the module's slot in _tls_index. No TLS callbacks. */
typedef void(__stdcall *tls_callback)(void *module, unsigned long reason, void *reserved);
typedef struct tls_directory {
    tutorial_uptr start_of_raw_data;
    tutorial_uptr end_of_raw_data;
    tutorial_uptr address_of_index;
    tutorial_uptr address_of_callbacks;
    unsigned long size_of_zero_fill;
    unsigned long characteristics;
} tls_directory;

unsigned long _tls_index = 0;

#pragma section(".tls", read, write)
#pragma section(".tls$ZZZ", read, write)
#pragma section(".CRT$XLA", read)
#pragma section(".CRT$XLZ", read)
#pragma section(".rdata$T", read)
__declspec(allocate(".tls")) char _tls_start = 0;
__declspec(allocate(".tls$ZZZ")) char _tls_end = 0;
__declspec(allocate(".CRT$XLA")) tls_callback __xl_a = 0; /* the callbacks' list: empty */
__declspec(allocate(".CRT$XLZ")) tls_callback __xl_z = 0;
__declspec(allocate(".rdata$T")) const tls_directory _tls_used = {
    (tutorial_uptr)&_tls_start, (tutorial_uptr)&_tls_end, (tutorial_uptr)&_tls_index,
    (tutorial_uptr)(&__xl_a + 1), 0, 0};

/* The entry point of a console program: the arguments from the UCRT, then main. */
void __cdecl mainCRTStartup(void)
{
    _set_app_type(1);          /* _crt_console_app */
    _configure_narrow_argv(1); /* _crt_argv_unexpanded_arguments */
    _initialize_narrow_environment();
    exit(main(*__p___argc(), *__p___argv(), _get_initial_narrow_environment()));
}
