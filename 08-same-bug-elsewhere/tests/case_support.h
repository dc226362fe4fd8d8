/* What the cases' tests share (plumbing, like case_kit.h for the reductions). */
#ifndef CASE_SUPPORT_H
#define CASE_SUPPORT_H

#include <windows.h>

/* A fresh temporary file holding content, opened for overlapped I/O with access (plus
 * the right to delete it, which closing its handle does). Fails the test otherwise. */
HANDLE case_overlapped_file(const char *content, DWORD access);

#endif
