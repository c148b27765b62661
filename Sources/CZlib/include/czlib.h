// zlib (Debian zlib1g-dev) for PNG compression.
#ifndef DODE_CZLIB_H
#define DODE_CZLIB_H
#include <zlib.h>
#endif
