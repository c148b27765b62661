// Intentionally empty: the target exports zlib.h and links libz.
