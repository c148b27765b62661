#include "cfuzzdriver.h"
/* The declaration is all this target provides; the definition is libFuzzer's. */
