// libFuzzer's driver as a library call (libclang_rt.fuzzer_no_main): the fuzz targets keep their
// own main (SwiftPM names and links it) and hand libFuzzer the callback.
#ifndef DODE_CFUZZDRIVER_H
#define DODE_CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
