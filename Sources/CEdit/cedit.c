#include "cedit.h"
#include <stdlib.h>

static char *(*dode_generator)(const char *, int) = NULL;

static char **dode_attempted_completion(const char *text, int start, int end) {
    (void)start; (void)end;
    if (dode_generator == NULL) return NULL;
    return rl_completion_matches(text, dode_generator);
}

void dode_edit_set_completer(char *(*fn)(const char *text, int state)) {
    dode_generator = fn;
    rl_attempted_completion_function = dode_attempted_completion;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
}
