// libedit (BSD licence; Debian libedit-dev) through its readline-compatible interface.
#ifndef DODE_CEDIT_H
#define DODE_CEDIT_H
#include <stdio.h>
#include <editline/readline.h>

/// Installs `fn` as the completion generator (readline's rl_completion_matches protocol).
void dode_edit_set_completer(char *(*fn)(const char *text, int state));
#endif
